"""Engine session: adapters loaded once and hot-swapped, exact holdout loss, batched generation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tinymodel as tm
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, LlamaForCausalLM

from crma_eval.checkpoint import load_checkpoint
from crma_eval.config import EngineConfig
from crma_eval.engine import EngineSession, loss
from crma_eval.engine.batching import length_sorted_batches, pad_batch, windows
from crma_eval.engine.generation import cut_at_stop
from crma_eval.errors import InputError

pytestmark = pytest.mark.slow  # a real tiny model

TEXTS = [*tm.corpus(), "the court", "a bond pays", "the"]
PROMPTS = ["the patient", "question : what is the answer ?", "the bank raises the", "a", "legal"]


@pytest.fixture(scope="module")
def world() -> tm.World:
    return tm.world()


@pytest.fixture(scope="module")
def session(world: tm.World) -> EngineSession:
    return EngineSession(str(world.base), EngineConfig(batch_size=3, max_length=64))


@pytest.fixture(scope="module")
def ckpts(world: tm.World) -> dict:
    return {cid: load_checkpoint(folder) for cid, folder in world.checkpoints.items()}


@pytest.fixture(scope="module")
def plain(world: tm.World) -> LlamaForCausalLM:
    return LlamaForCausalLM.from_pretrained(world.base).eval()


def test_batching_helpers() -> None:
    assert length_sorted_batches([2, 5, 3, 5, 1], 2) == [[1, 3], [2, 0], [4]]
    ids, mask = pad_batch([[7, 8, 9], [5]], pad_id=0, side="left", device="cpu")
    assert ids.tolist() == [[7, 8, 9], [0, 0, 5]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    ids, mask = pad_batch([[7, 8, 9], [5]], pad_id=0, side="right", device="cpu")
    assert ids.tolist() == [[7, 8, 9], [5, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_adapters_loaded_once_and_switched(session: EngineSession, ckpts: dict) -> None:
    losses: dict = {}
    order = ["modular-seed0-phase1", "modular-seed0-phase3", "modular-seed0-phase2"] * 2
    for cid in order:
        ck = ckpts[cid]
        for domain in [None, *ck.trained_domains]:
            for crma in (False, True):
                session.activate(ck, domain, crma)
                loss, _n = session.holdout_loss(TEXTS)
                losses.setdefault((cid, domain, crma), set()).add(loss)
    assert session.stats == {"adapter_loads": 3, "crma_loads": 3}
    assert all(len(v) == 1 for v in losses.values())  # switching back reproduces the numbers
    p3 = {key[1:]: next(iter(v)) for key, v in losses.items() if key[0] == "modular-seed0-phase3"}
    p2 = {key[1:]: next(iter(v)) for key, v in losses.items() if key[0] == "modular-seed0-phase2"}
    assert len({p3[(d, False)] for d in [None, *tm.DOMAINS]}) == 4  # each adapter changes the loss
    assert p3[("medical", False)] == p2[("medical", False)]  # same adapter content, same loss
    assert p3[("medical", True)] != p2[("medical", True)]  # but the CRMA state differs per phase
    naive = ckpts["naive-seed0-phase3"]
    for domain in tm.DOMAINS:
        session.activate(naive, domain, crma=False)
    assert session.stats["adapter_loads"] == 4  # one shared naive adapter, loaded once


def test_disabled_path_equals_plain_base(
    session: EngineSession, ckpts: dict, plain: LlamaForCausalLM
) -> None:
    ck = ckpts["modular-seed0-phase3"]
    session.activate(ck, "legal", crma=True)
    ids = torch.tensor([session.tokenizer(TEXTS[0])["input_ids"]])
    with torch.no_grad():
        adapted = session.model(input_ids=ids).logits
        session.activate(ck, None, crma=False)
        bare = session.model(input_ids=ids).logits
        assert torch.equal(bare, plain(input_ids=ids).logits)
    assert not torch.allclose(adapted, bare, atol=1e-4)


def test_adapters_with_other_targets_stay_isolated(world: tm.World, tmp_path) -> None:
    """Loading an adapter that wraps other modules leaves the live adapter and base path intact."""
    ck = load_checkpoint(world.checkpoints["modular-seed0-phase3"])
    other_folder = tm.build_checkpoint(tmp_path / "other", world.base, phase=1, crma=False)
    shutil.rmtree(other_folder / "adapters" / "medical")
    tm.build_adapter(world.base, other_folder / "adapters" / "medical", 7, ["k_proj", "o_proj"])
    other = load_checkpoint(other_folder)
    fresh = EngineSession(str(world.base))
    fresh.activate(ck, "legal", crma=False)
    want = fresh.holdout_loss(TEXTS)
    fresh.activate(ck, None, crma=False)
    want_base = fresh.holdout_loss(TEXTS)
    mixed = EngineSession(str(world.base))
    for domain in ("legal", None):
        mixed.activate(ck, domain, crma=False)
        mixed.activate(other, "medical", crma=False)
        assert mixed.holdout_loss(TEXTS) != want
        mixed.activate(ck, domain, crma=False)
        assert mixed.holdout_loss(TEXTS) == (want if domain else want_base)


def _direct_loss(model: torch.nn.Module, tokenizer, texts: list[str]) -> tuple[float, int]:
    total, n = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer(text)["input_ids"]])
            if ids.shape[1] < 2:
                continue
            logits = model(input_ids=ids).logits[0, :-1]
            total += F.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
            n += ids.shape[1] - 1
    return total / n, n


@pytest.mark.parametrize(("domain", "crma"), [(None, False), ("finance", True)])
def test_holdout_loss_matches_direct_computation(
    session: EngineSession, ckpts: dict, domain: str | None, crma: bool
) -> None:
    session.activate(ckpts["modular-seed0-phase3"], domain, crma)
    loss, n = session.holdout_loss(TEXTS)
    want, want_n = _direct_loss(session.model, session.tokenizer, TEXTS)
    assert n == want_n
    assert loss == pytest.approx(want, abs=1e-5)


def test_long_texts_are_scored_in_windows(session: EngineSession, ckpts: dict) -> None:
    session.activate(ckpts["modular-seed0-phase3"], "legal", crma=True)
    got, n = loss.holdout_loss(
        session.model, session.tokenizer, TEXTS, batch_size=2, max_length=5, device="cpu"
    )
    ids = [session.tokenizer(t)["input_ids"] for t in TEXTS]
    assert n == sum(len(x) - 1 for x in ids)
    assert sum(len(windows(x, 5)) for x in ids) > len(TEXTS)  # some texts do get split
    total, count = 0.0, 0
    with torch.no_grad():
        for x in ids:
            for w in windows(x, 5):
                t = torch.tensor([w])
                logits = session.model(input_ids=t).logits[0, :-1]
                total += F.cross_entropy(logits, t[0, 1:], reduction="sum").item()
                count += len(w) - 1
    assert count == n
    assert got == pytest.approx(total / count, abs=1e-5)


def test_windows() -> None:
    assert windows([1, 2, 3], 5) == [[1, 2, 3]]
    assert windows(list(range(10)), 4) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert windows(list(range(11)), 4)[-1] == [9, 10]


def test_holdout_loss_without_tokens(session: EngineSession) -> None:
    loss, n = session.holdout_loss([""])
    assert n == 0 and np.isnan(loss)


def test_generate_batched_equals_one_at_a_time(session: EngineSession, ckpts: dict) -> None:
    session.activate(ckpts["modular-seed0-phase3"], "medical", crma=True)
    batched = session.generate(PROMPTS, max_new_tokens=6, stop=[])
    single = [session.generate([p], max_new_tokens=6, stop=[])[0] for p in PROMPTS]
    assert batched == single
    assert len(set(batched)) > 1 and all(batched)


def test_stop_strings_cut(session: EngineSession, ckpts: dict) -> None:
    session.activate(ckpts["modular-seed0-phase3"], "legal", crma=True)
    full = session.generate(PROMPTS, max_new_tokens=8, stop=[])
    text = next(t for t in full if len(t.split()) >= 3)
    stop = text.split()[2]
    cut = session.generate(PROMPTS, max_new_tokens=8, stop=[stop])
    for whole, short in zip(full, cut, strict=True):
        assert short == whole[: whole.find(stop)] if stop in whole else short == whole
    assert stop not in cut[full.index(text)]


def test_cut_at_stop() -> None:
    assert cut_at_stop("a b\nc. d", ["\n", "."]) == "a b"
    assert cut_at_stop("a b. c\nd", ["\n", "."]) == "a b"
    assert cut_at_stop("abc", ["", "x"]) == "abc"


def test_embed_uses_base_only_and_restores_state(session: EngineSession, ckpts: dict) -> None:
    ck = ckpts["modular-seed0-phase3"]
    session.activate(ck, None, crma=False)
    bare = session.embed(PROMPTS)
    session.activate(ck, "finance", crma=True)
    before = session.holdout_loss(TEXTS)
    assert np.array_equal(session.embed(PROMPTS), bare)
    assert session.holdout_loss(TEXTS) == before
    assert bare.shape == (len(PROMPTS), tm.HIDDEN)
    assert np.allclose(np.linalg.norm(bare, axis=1), 1.0, atol=1e-5)


def test_tokenizer_and_model_are_exposed(session: EngineSession, world: tm.World) -> None:
    expected = AutoTokenizer.from_pretrained(world.base)
    assert session.tokenizer("the court")["input_ids"] == expected("the court")["input_ids"]
    assert session.model.config.hidden_size == tm.HIDDEN


def test_bad_base_models(tmp_path, world: tm.World) -> None:
    with pytest.raises(InputError, match="cannot load base model"):
        EngineSession(str(tmp_path / "missing"))
    model = LlamaForCausalLM.from_pretrained(world.base)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    model.config.save_pretrained(tmp_path)
    tm.build_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(InputError, match="cannot load base model") as info:
        EngineSession(str(tmp_path))
    assert info.value.path == str(tmp_path)
