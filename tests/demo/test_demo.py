"""The embedded demo: tiny model, sequential trainer and the artefacts it writes (the data
generator, which needs no torch, is tested in test_demo_data.py).

One small build (one seed, few steps) is shared by the module; the whole file runs in well under a
minute on one core.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from crma_eval.checkpoint import load_checkpoint
from crma_eval.checkpoint.router import CentroidRouter
from crma_eval.config import load_config
from crma_eval.demo import domains as dm
from crma_eval.demo import tasks as dt
from crma_eval.plugins.router.records import ROUTE_CATEGORIES
from crma_eval.records import iter_records

pytestmark = pytest.mark.slow  # builds the demo's tiny model and checkpoints with torch

DOMAINS = list(dm.DOMAINS)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    from crma_eval.demo.build import build_demo

    return build_demo(
        tmp_path_factory.mktemp("demo"), seeds=(0,), size="small", quiet=True, workers=2
    )


def _ckpt(demo, condition: str, phase: int) -> Path:
    return demo.root / "checkpoints" / f"{condition}-seed0-phase{phase}"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_run_config_points_at_every_artefact(demo) -> None:
    config = load_config(demo.config_path)
    paths = config.checkpoint_paths()
    assert len(paths) == len(demo.checkpoints) == 3 * len(DOMAINS)
    assert all(p.is_dir() for p in paths)
    assert set(config.data.holdout) == set(config.data.qa) == set(DOMAINS)
    for name in DOMAINS:
        assert all(isinstance(r["text"], str) for r in _read_jsonl(config.data.holdout[name]))
        assert all(r["reference"] for r in _read_jsonl(config.data.qa[name]))
    suite = _read_jsonl(config.data.router_suite)
    assert {r["category"] for r in suite} == set(ROUTE_CATEGORIES)
    assert config.generation.prompt_template == dm.QA_PROMPT


def test_base_model_and_tokenizer_load_from_safetensors(demo) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo.base_model)
    model = AutoModelForCausalLM.from_pretrained(demo.base_model, use_safetensors=True)
    prompt = dm.QA_PROMPT.format(question="what is the indication of the drug amizol ?")
    ids = tokenizer(prompt)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == prompt
    assert model.config.vocab_size == len(tokenizer)
    assert not [p for p in demo.root.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt")]


def test_manifests_load_with_the_checkpoint_loader(demo) -> None:
    for condition in ("naive", "frozen", "modular"):
        for phase in range(1, len(DOMAINS) + 1):
            ckpt = load_checkpoint(_ckpt(demo, condition, phase))
            assert ckpt.id == f"{condition}-seed0-phase{phase}"
            assert ckpt.trained_domains == DOMAINS[:phase]
            assert set(ckpt.manifest.adapters) == set(DOMAINS[:phase])
            assert (ckpt.manifest.crma is not None) == (condition == "modular")
            router = ckpt.router
            assert router.domains == DOMAINS[:phase] and router.threshold is not None
            np.testing.assert_allclose(np.linalg.norm(router.centroids, axis=1), 1.0, rtol=1e-6)


def test_naive_shared_adapter_changes_every_phase(demo) -> None:
    files = [
        _ckpt(demo, "naive", p) / "adapters/shared/adapter_model.safetensors"
        for p in range(1, len(DOMAINS) + 1)
    ]
    assert len({_sha(f) for f in files}) == len(files)
    final = load_checkpoint(_ckpt(demo, "naive", len(DOMAINS)))
    assert {final.adapter_path(d) for d in DOMAINS} == {final.path / "adapters" / "shared"}


@pytest.mark.parametrize("condition", ["frozen", "modular"])
def test_earlier_adapters_stay_byte_identical(demo, condition: str) -> None:
    for i, domain in enumerate(DOMAINS, start=1):
        shas = {
            _sha(_ckpt(demo, condition, p) / f"adapters/{domain}/adapter_model.safetensors")
            for p in range(i, len(DOMAINS) + 1)
        }
        assert len(shas) == 1, f"{condition} adapter {domain} changed after its phase"
    first = load_file(_ckpt(demo, condition, 1) / "adapters/medical/adapter_model.safetensors")
    second = load_file(_ckpt(demo, condition, 2) / "adapters/legal/adapter_model.safetensors")
    assert any(not torch.equal(first[k], second[k]) for k in first)  # fresh adapter per domain


def test_crma_is_a_fixed_near_permutation_that_stays_doubly_stochastic(demo) -> None:
    from safetensors.torch import load_file

    from crma_eval.demo.build import SETTINGS

    states = [load_file(_ckpt(demo, "modular", p) / "crma.safetensors") for p in range(1, 6)]
    for state in states[1:]:  # fixed: the same module in every phase
        assert state.keys() == states[0].keys()
        assert all(torch.equal(state[k], states[0][k]) for k in state)
    hidden = json.loads((demo.base_model / "config.json").read_text())["hidden_size"]
    settings = SETTINGS["small"]
    for phase in range(1, len(DOMAINS) + 1):
        ckpt = load_checkpoint(_ckpt(demo, "modular", phase))
        crma = ckpt.build_crma(hidden_size=hidden)
        assert crma.layer_ids == list(settings.crma_layers)
        for layer in crma.layer_ids:
            gate = torch.tanh(crma.gate[str(layer)])
            assert float(gate) == pytest.approx(settings.crma_gate)
        for name, m in crma.mixing_matrices().items():
            assert (m >= 0).all(), name
            shift = torch.roll(torch.eye(m.shape[0], dtype=m.dtype), 1, dims=1)
            assert float((m - shift).abs().max()) < 0.05  # the cyclic group shift, not identity
            torch.testing.assert_close(m.sum(0), torch.ones(m.shape[0], dtype=m.dtype))
            torch.testing.assert_close(m.sum(1), torch.ones(m.shape[0], dtype=m.dtype))
            assert abs(float(torch.linalg.matrix_norm(m, ord=2)) - 1) < 1e-6


def test_spectral_logs_are_valid_records_growing_with_phases(demo) -> None:
    sizes = []
    for phase in range(1, len(DOMAINS) + 1):
        ckpt = load_checkpoint(_ckpt(demo, "modular", phase))
        records = list(iter_records(ckpt.spectral_log_path))
        sizes.append(len(records))
        assert {r["phase"] for r in records} == set(DOMAINS[:phase])
        assert all(abs(r["spectral_norm"] - 1) < 1e-6 for r in records)
        steps = [r["step"] for r in records]
        assert steps == sorted(steps)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_router_centroids_come_from_each_domains_text_and_queries(demo) -> None:
    from crma_eval.demo.build import CENTROID_QUERIES, DATA_SEED
    from crma_eval.engine import EngineSession

    router = CentroidRouter.load(_ckpt(demo, "frozen", len(DOMAINS)) / "router.safetensors")
    session = EngineSession(str(demo.base_model))
    corpus = dm.generate(DATA_SEED, "small")
    queries = dm.domain_queries(corpus.domains, DATA_SEED, CENTROID_QUERIES, "centroid")
    for row, name in enumerate(DOMAINS):
        texts = [r["text"] for r in _read_jsonl(demo.data.train[name])] + queries[name]
        emb = session.embed(texts).astype(np.float64)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        centroid = emb.mean(axis=0) / np.linalg.norm(emb.mean(axis=0))
        np.testing.assert_allclose(router.centroids[row], centroid, atol=1e-5)


def test_run_config_runs_bench_on_local_tasks_cached_inside_the_demo(demo) -> None:
    config = load_config(demo.config_path)
    assert "bench" in config.plugins
    bench = config.options["bench"]
    assert bench["tasks"] == list(dt.TASKS) and bench["offline"] is True
    assert [demo.root / p for p in bench["include_path"]] == [demo.tasks.folder]
    assert (demo.root / bench["cache_dir"]).resolve().is_relative_to(demo.root)
    arms = {a["name"]: a for a in bench["arms"]}
    assert arms["base"]["checkpoint"] == "none"
    assert arms["after"] == {
        "name": "after",
        "checkpoint": f"modular-seed0-phase{len(DOMAINS)}",
        "crma": True,
        "adapter": "last",
    }
    assert _ckpt(demo, "modular", len(DOMAINS)).name == arms["after"]["checkpoint"]


def test_generated_tasks_load_offline_with_lm_eval(demo) -> None:
    from lm_eval.tasks import TaskManager

    for name in dt.TASKS:
        assert demo.tasks.yamls[name].is_file() and demo.tasks.data[name].is_file()
        assert demo.tasks.data[name].is_relative_to(demo.root / "data")
    manager = TaskManager(include_path=[str(demo.tasks.folder)], include_defaults=False)
    assert set(dt.TASKS) <= set(manager.all_tasks)
    loaded = manager.load(list(dt.TASKS))["tasks"]
    mc, arith = loaded[dt.MC_TASK], loaded[dt.ARITH_TASK]
    assert [dict(d) for d in mc.eval_docs] == _read_jsonl(demo.tasks.data[dt.MC_TASK])
    doc = mc.eval_docs[0]
    assert mc.doc_to_text(doc) == dm.QA_PROMPT.format(question=doc["question"])
    assert mc.doc_to_choice(doc) == doc["choices"] and mc.doc_to_target(doc) == doc["label"]
    assert len(arith.eval_docs) == dt.N_ARITH
    assert [f.name for f in arith._filters] == [
        "strict-match",
        "flexible-extract",
        "crma-corrected",
    ]
    assert arith.config.generation_kwargs["max_gen_toks"] == dt.MAX_GEN_TOKS
    assert (demo.root / "cache" / "datasets").is_dir()  # the datasets cache stayed in the demo


# --- trainer pieces ---------------------------------------------------------------------------


def test_a_group_with_a_nonfinite_gradient_skips_its_update_and_is_counted() -> None:
    from crma_eval.demo.trainer import StepStats, _drop_nonfinite

    good, bad = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    good.grad, bad.grad = torch.ones(2), torch.tensor([1.0, float("inf")])
    groups = [{"name": "lora", "params": [good]}, {"name": "crma", "params": [bad]}]
    stats = StepStats()
    _drop_nonfinite(groups, stats)
    assert good.grad is not None and bad.grad is None
    assert stats.skipped == {"crma": 1}


def test_batches_pad_right_and_mask_padding_out_of_the_labels() -> None:
    from crma_eval.demo.trainer import IGNORE, batches

    seqs = [torch.tensor([1, 5, 6, 2]), torch.tensor([1, 7, 2])]
    ids, mask, labels = next(batches(seqs, 2, pad_id=0, gen=torch.Generator().manual_seed(0)))
    short = int(mask.sum(1).argmin())
    assert ids[short, -1] == 0 and mask[short, -1] == 0 and labels[short, -1] == IGNORE
    assert torch.equal(labels[mask == 1], ids[mask == 1])


def test_unknown_size_is_rejected(tmp_path: Path) -> None:
    from crma_eval.demo.build import build_demo

    with pytest.raises(ValueError, match="size"):
        build_demo(tmp_path, size="huge", quiet=True)
    with pytest.raises(ValueError, match="size"):
        dm.generate(0, "huge")
