"""Tiny in-process model fixtures for model-side tests: a 2-layer Llama, LoRA adapters, checkpoints.

Everything is built from scratch in a temp folder (no downloads): a WordLevel tokenizer trained on
a few sentences, a random LlamaForCausalLM saved as safetensors, and PEFT LoRA adapters with
non-zero weights so that switching adapters visibly changes the logits.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from string import ascii_lowercase
from types import ModuleType
from typing import TYPE_CHECKING, Any

from crma_eval.atomicio import write_jsonl
from crma_eval.checkpoint import write_manifest

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

DOMAINS = ["medical", "legal", "finance"]
SENTENCES = {
    "medical": [
        "the patient has a fever and the doctor gives aspirin .",
        "the nurse checks the blood pressure of the patient .",
        "a dose of insulin treats high blood sugar .",
    ],
    "legal": [
        "the court finds the contract void under the statute .",
        "the judge reads the verdict to the jury .",
        "a lawyer files the appeal with the court .",
    ],
    "finance": [
        "the bank raises the interest rate on the loan .",
        "the stock price falls after the earnings report .",
        "a bond pays a fixed coupon every year .",
    ],
}
HIDDEN = 32


@functools.cache
def _torch() -> ModuleType:
    """torch, imported on first use (importing this module stays light for collection) and set
    to one thread: thread start-up and sync dwarf the work of a 32-wide model."""
    import torch

    torch.set_num_threads(1)
    return torch


def corpus() -> list[str]:
    """All fixture sentences plus a few numbers and question words."""
    extra = ["question : what is the answer ? answer : 1 2 3 4 5 6 7 8 9 10 42 yes no"]
    return [s for d in DOMAINS for s in SENTENCES[d]] + extra


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A WordLevel tokenizer trained in-process on the fixture corpus, with pad/eos/bos tokens."""
    from crma_eval.demo.tinymodel import wordlevel_tokenizer

    return wordlevel_tokenizer(lines=corpus())


def build_base(folder: Path, seed: int = 0) -> Path:
    """Save a random 2-layer Llama and its tokenizer (safetensors) into `folder`."""
    from crma_eval.demo.tinymodel import save_base, tiny_llama

    torch = _torch()
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    model = tiny_llama(tokenizer, hidden=HIDDEN, kv_heads=2, tie=False)
    with torch.no_grad():  # larger weights make the random model's greedy outputs less uniform
        model.lm_head.weight.mul_(8.0)
    return save_base(model, tokenizer, folder)


def build_adapter(
    base: Path, folder: Path, seed: int, target_modules: list[str] | None = None, r: int = 4
) -> Path:
    """Save a PEFT LoRA adapter with random non-zero weights (safetensors) into `folder`."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch = _torch()
    model = LlamaForCausalLM.from_pretrained(base)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=target_modules or ["q_proj", "v_proj"])
    peft_model = get_peft_model(model, cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    peft_model.save_pretrained(folder, safe_serialization=True)
    return folder


def build_crma(path: Path, seed: int, layers: list[int] | None = None, k: int = 4) -> Path:
    """Save a SinkhornCRMA with random logits and a non-zero gate as safetensors."""
    from crma_eval.checkpoint.sinkhorn import SinkhornCRMA

    torch = _torch()
    crma = SinkhornCRMA(hidden_size=HIDDEN, layers=layers or [1], k=k)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in crma.named_parameters():
            param.copy_(
                torch.randn(param.shape, generator=gen) * (1.0 if "logits" in name else 0.3)
            )
            if "gate" in name:
                param.fill_(0.8)
    crma.save(path)
    return path


def build_router(path: Path, seed: int, domains: list[str] | None = None) -> Path:
    """Save a centroid router with random unit centroids for `domains`."""
    from crma_eval.checkpoint.router import CentroidRouter

    torch = _torch()
    domains = domains or DOMAINS
    gen = torch.Generator().manual_seed(seed)
    emb = {d: torch.randn(2, HIDDEN, generator=gen).numpy() for d in domains}
    CentroidRouter.build(emb).save(path)
    return path


def cached_adapter(base: Path, seed: int) -> Path:
    """An adapter built once per (base, seed) in `<base>/../_adapters`, to copy into checkpoints."""
    folder = base.parent / "_adapters" / f"seed{seed}"
    return folder if folder.exists() else build_adapter(base, folder, seed)


def build_checkpoint(
    folder: Path,
    base: Path,
    *,
    condition: str = "modular",
    seed: int = 0,
    phase: int = len(DOMAINS),
    crma: bool = True,
    router: bool = True,
    shared_adapter: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Build a checkpoint folder (adapters, CRMA, router, manifest) after `phase` domains.

    Modular adapters depend on (seed, domain) only, as if frozen after their phase; a shared
    (naive) adapter depends on (seed, phase), as if retrained every phase.
    """
    folder.mkdir(parents=True, exist_ok=True)
    adapters = {}
    for i, domain in enumerate(DOMAINS[:phase]):
        rel = "adapters/shared" if shared_adapter else f"adapters/{domain}"
        source_seed = 1000 + 10 * seed + phase if shared_adapter else 100 * seed + i
        if not (folder / rel).exists():
            shutil.copytree(cached_adapter(base, source_seed), folder / rel)
        adapters[domain] = rel
    manifest: dict[str, Any] = {
        "format": "crma-checkpoint/1",
        "base_model": str(base),
        "domain_order": list(DOMAINS),
        "adapters": adapters,
        "training": {"condition": condition, "seed": seed, "phase": phase},
    }
    if crma:
        build_crma(folder / "crma.safetensors", seed=10 * seed + phase)
        manifest["crma"] = {
            "implementation": "sinkhorn",
            "config": {"layers": [1], "k": 4},
            "weights": "crma.safetensors",
        }
    if router:
        build_router(folder / "router.safetensors", seed=seed)
        manifest["router"] = {"encoder": "base_mean_pool", "weights": "router.safetensors"}
    manifest.update(extra or {})
    write_manifest(folder, manifest)
    return folder


@dataclass
class World:
    """A base model and checkpoints of two conditions over all phases, in one temp folder."""

    root: Path
    base: Path
    checkpoints: dict[str, Path]  # checkpoint id -> folder


_TMP: list[tempfile.TemporaryDirectory] = []


@functools.cache
def world() -> World:
    """Build (once per process) a base and modular/naive checkpoints for phases 1..3."""
    _TMP.append(tempfile.TemporaryDirectory(prefix="crma-tiny-"))
    root = Path(_TMP[-1].name)
    base = build_base(root / "base")
    checkpoints = {}
    for condition in ("modular", "naive"):
        for phase in range(1, len(DOMAINS) + 1):
            folder = build_checkpoint(
                root / f"{condition}-p{phase}",
                base,
                condition=condition,
                phase=phase,
                shared_adapter=condition == "naive",
            )
            checkpoints[f"{condition}-seed0-phase{phase}"] = folder
    return World(root, base, checkpoints)


def write_data(
    root: Path,
    questions: dict[str, list[str]],
    suite: list[tuple[str, str, str | None]],
    text_domains: Collection[str] = (),
) -> dict[str, Any]:
    """Write evaluation data under `root`; return it as the fields of a DataConfig.

    Holdout: every domain's sentences as JSON Lines, or as blank-line separated text for
    `text_domains`. QA: `questions` per domain (reference "aspirin"). Router suite: one item per
    (query, category, gold), with ids a, b, c, ...
    """
    holdout = {}
    for domain, lines in SENTENCES.items():
        if domain in text_domains:
            holdout[domain] = root / f"{domain}.txt"
            holdout[domain].write_text("\n\n".join(lines) + "\n")
        else:
            holdout[domain] = write_jsonl(root / f"{domain}.jsonl", [{"text": t} for t in lines])
    qa = {
        d: write_jsonl(
            root / f"qa_{d}.jsonl",
            [{"item_id": i, "question": q, "reference": "aspirin"} for i, q in enumerate(qs)],
        )
        for d, qs in questions.items()
    }
    items = [
        {"item_id": ascii_lowercase[i], "query": query, "category": category, "gold": gold}
        for i, (query, category, gold) in enumerate(suite)
    ]
    return {"holdout": holdout, "qa": qa, "router_suite": write_jsonl(root / "suite.jsonl", items)}


def write_modular_run_config(
    root: Path, name: str, suite: list[tuple[str, str, str | None]]
) -> Path:
    """A run config over the world's modular checkpoints (drift, qa, spectral; one engine thread,
    as Ray actors get) with two QA domains and `suite`; returns its path under `root`."""
    import yaml

    questions = {"medical": ["what treats high blood sugar ?"], "legal": ["who reads it ?"]}
    data = write_data(root, questions, suite)
    cfg = {
        "name": name,
        "checkpoints": [str(p) for k, p in world().checkpoints.items() if k.startswith("modular")],
        "plugins": ["drift", "qa", "spectral"],
        "engine": {"batch_size": 4, "max_length": 64, "threads": 1},
        "generation": {"max_new_tokens": 4, "stop": ["?"]},
        "data": {k: _jsonable(v) for k, v in data.items()},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _jsonable(value: Any) -> Any:
    """Paths (alone or in a domain mapping) as text, for YAML."""
    if isinstance(value, dict):
        return {k: str(v) for k, v in value.items()}
    return None if value is None else str(value)
