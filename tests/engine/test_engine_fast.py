"""Engine speed features: flag-only adapter switching, merged units, chunked holdout loss."""

from __future__ import annotations

import time

import pytest
import tinymodel as tm
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM

from crma_eval.checkpoint import load_checkpoint
from crma_eval.config import EngineConfig
from crma_eval.demo.tinymodel import tiny_llama
from crma_eval.engine import EngineSession, loss
from crma_eval.engine.adapters import AdapterBank
from crma_eval.engine.batching import pad_batch
from crma_eval.engine.session import MERGE_MIN_ITEMS

pytestmark = pytest.mark.slow  # a real tiny model

TEXTS = [*tm.corpus(), "the court", "a bond pays"]


@pytest.fixture(scope="module")
def world() -> tm.World:
    return tm.world()


@pytest.fixture(scope="module")
def session(world: tm.World) -> EngineSession:
    return EngineSession(str(world.base), EngineConfig(batch_size=3, max_length=64))


def _logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_flag_switch_is_bit_identical_to_peft_set_adapter(
    session: EngineSession, world: tm.World
) -> None:
    ck = load_checkpoint(world.checkpoints["modular-seed0-phase3"])
    ids = torch.tensor([session.tokenizer(TEXTS[0])["input_ids"]])
    for domain in tm.DOMAINS:
        session.activate(ck, domain, crma=False)
    peft = session.adapters.peft
    assert peft is not None
    for domain in [*tm.DOMAINS, None, "legal"]:
        name = session.activate(ck, domain, crma=False) and session.adapters.active
        ours = _logits(session.model, ids)
        if name is None:
            peft.base_model.disable_adapter_layers()
        else:
            peft.base_model.enable_adapter_layers()
            peft.set_adapter(name)
        assert torch.equal(ours, _logits(session.model, ids)), domain
        session.adapters._dirty = True  # PEFT changed flags behind the bank's back


def _bank_with(n: int) -> AdapterBank:
    torch.manual_seed(0)
    base = tiny_llama(tm.build_tokenizer(), hidden=32, layers=2, heads=4)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
    peft = get_peft_model(base, config, adapter_name="a0")
    for i in range(1, n):
        peft.add_adapter(f"a{i}", config)
    bank = AdapterBank(base)
    bank.peft, bank._dirty = peft, True
    return bank


def _switch_seconds(bank: AdapterBank, names: list[str]) -> float:
    bank.switch(names[0])
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for name in names * 5:
            bank.switch(name)
        best = min(best, (time.perf_counter() - start) / (5 * len(names)))
    return best


def test_switch_time_flat_in_number_loaded() -> None:
    """PEFT's set_adapter is O(adapters loaded): 12x the adapters would cost ~12x."""
    few, many = _bank_with(5), _bank_with(60)  # bench: 5 vs 200
    names = ["a0", "a3", "a1", "a4"]
    assert _switch_seconds(many, names) < 3 * _switch_seconds(few, names) + 2e-5
    for layer in many._layers:  # flags set, no adapter made trainable
        assert layer.active_adapters == ["a4"] and not layer.disable_adapters


def test_merged_round_trip_is_exact(session: EngineSession, world: tm.World) -> None:
    ck = load_checkpoint(world.checkpoints["modular-seed0-phase3"])
    session.activate(ck, "legal", crma=True)
    ids = torch.tensor([session.tokenizer(TEXTS[1])["input_ids"]])
    before = {k: v.clone() for k, v in session.model.state_dict().items()}
    unmerged = _logits(session.model, ids)
    with session.merged():
        merged = _logits(session.model, ids)
        changed = [
            k for k, v in session.model.state_dict().items() if not torch.equal(v, before[k])
        ]
        assert changed and all("base_layer.weight" in k for k in changed)
    after = session.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert torch.allclose(merged, unmerged, atol=1e-5)
    assert torch.equal(_logits(session.model, ids), unmerged)


def test_long_units_run_merged_with_equal_results(session: EngineSession, world: tm.World) -> None:
    ck = load_checkpoint(world.checkpoints["modular-seed0-phase3"])
    session.activate(ck, "finance", crma=False)
    prompts = (["the bank raises the", "a bond", "the patient"] * MERGE_MIN_ITEMS)[:MERGE_MIN_ITEMS]
    calls: list[int] = []
    original = session.adapters.merge_active
    session.adapters.merge_active = lambda: calls.append(1) or original()  # type: ignore[method-assign]
    try:
        long_answers = session.generate(prompts, max_new_tokens=6, stop=["."])
        long_loss = session.holdout_loss(prompts)[0]
    finally:
        del session.adapters.merge_active
    assert len(calls) == 2  # both units ran merged
    short = [session.generate([p], max_new_tokens=6, stop=["."])[0] for p in prompts[:3]]
    assert long_answers[:3] == short
    unmerged = loss.holdout_loss(
        session.model, session.tokenizer, prompts, batch_size=3, max_length=64, device="cpu"
    )[0]
    assert long_loss == pytest.approx(unmerged, abs=1e-5)


@pytest.mark.parametrize("budget", [1, 50, 1 << 22])
def test_chunked_nll_equals_full_logits(session: EngineSession, budget: int) -> None:
    seqs = [session.tokenizer(t)["input_ids"] for t in TEXTS[:5]]
    ids, mask = pad_batch(seqs, 0, "right", "cpu")
    with torch.no_grad():
        want = loss.batch_nll_sum(
            session.model(input_ids=ids, attention_mask=mask).logits, ids, mask
        )
        got = loss.chunked_nll_sum(session.model, ids, mask, budget=budget)
    assert float(got) == pytest.approx(float(want), rel=1e-6)


def test_chunked_nll_peak_memory_bounded() -> None:
    """The full [B, T, V] logits are never materialised: the largest tensor the head makes is
    at most the budget (checked by recording the head's output sizes)."""
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        tiny_llama(tm.build_tokenizer(), hidden=16, layers=1, heads=2).config
    ).eval()
    sizes: list[int] = []
    model.lm_head.register_forward_hook(lambda m, i, o: sizes.append(o.numel()))
    ids = torch.randint(4, model.config.vocab_size, (4, 60))
    with torch.no_grad():
        loss.chunked_nll_sum(
            model, ids, torch.ones_like(ids), budget=4 * 10 * model.config.vocab_size
        )
    assert max(sizes) <= 4 * 10 * model.config.vocab_size < ids.numel() * model.config.vocab_size
