"""Checkpoints for the fake engine (crma_eval.engine.fake.FakeSession): manifests, adapter and
router files with the right names and formats, written with numpy only (no torch, no model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from safetensors.numpy import save_file

from crma_eval.checkpoint import write_manifest
from crma_eval.checkpoint.router import CentroidRouter

DOMAINS = ["medical", "legal", "finance"]
EMBED_DIM = 8  # FakeSession's default embedding length


def fake_checkpoint(folder: Path, condition: str, phase: int, seed: int = 0) -> Path:
    """A checkpoint after `phase` domains: one adapter folder per domain and a centroid router.

    The fake session never reads the adapter weights; they only have to exist (and hash)."""
    rng = np.random.default_rng(100 * seed + phase)
    adapters = {}
    for domain in DOMAINS[:phase]:
        rel = f"adapters/{domain}"
        (folder / rel).mkdir(parents=True, exist_ok=True)
        config = {"peft_type": "LORA", "r": 2, "target_modules": ["q_proj"]}
        (folder / rel / "adapter_config.json").write_text(json.dumps(config))
        weights = {"lora_A": rng.normal(size=(2, 4)).astype(np.float32)}
        save_file(weights, str(folder / rel / "adapter_model.safetensors"))
        adapters[domain] = rel
    emb = {d: rng.normal(size=(2, EMBED_DIM)) for d in DOMAINS}
    CentroidRouter.build(emb).save(folder / "router.safetensors")
    manifest: dict[str, Any] = {
        "format": "crma-checkpoint/1",
        "base_model": "fake-base",
        "domain_order": list(DOMAINS),
        "adapters": adapters,
        "training": {"condition": condition, "seed": seed, "phase": phase},
        "router": {"encoder": "base_mean_pool", "weights": "router.safetensors"},
    }
    write_manifest(folder, manifest)
    return folder


def fake_run_config(root: Path, plugins: list[str]) -> Path:
    """A run config on the fake engine over modular/naive checkpoints of phases 1..3, holdout
    texts, two QA domains and a router suite; returns its path under `root`."""
    checkpoints = [
        fake_checkpoint(root / f"{c}-p{p}", c, p) for c in ("modular", "naive") for p in (1, 2, 3)
    ]
    data: dict[str, Any] = {"holdout": {}, "qa": {}}
    for domain in DOMAINS:
        path = root / f"{domain}.jsonl"
        path.write_text(
            "".join(json.dumps({"text": f"{domain} text {i}"}) + "\n" for i in range(3))
        )
        data["holdout"][domain] = str(path)
    for domain in DOMAINS[:2]:
        path = root / f"qa_{domain}.jsonl"
        rows = [
            {"item_id": i, "question": f"{domain} q{i}?", "reference": "answer 3"} for i in range(4)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        data["qa"][domain] = str(path)
    suite = [
        {"item_id": "a", "query": "legal words", "category": "in_domain", "gold": "legal"},
        {"item_id": "b", "query": "medical words", "category": "in_domain", "gold": "medical"},
        {"item_id": "c", "query": "weather", "category": "ood", "gold": None},
    ]
    data["router_suite"] = str(root / "suite.jsonl")
    Path(data["router_suite"]).write_text("".join(json.dumps(r) + "\n" for r in suite))
    cfg = {
        "name": "fake",
        "checkpoints": [str(p) for p in checkpoints],
        "plugins": plugins,
        "arms": [
            {"name": "oracle", "crma": False},
            {"name": "routed", "crma": False, "adapter": "router"},
        ],
        "engine": {"session": "fake"},
        "generation": {"max_new_tokens": 4, "stop": ["?"]},
        "data": data,
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path
