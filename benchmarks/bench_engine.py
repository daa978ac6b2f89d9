"""Benchmark the engine on a random 4-layer, 256-wide Llama on CPU, every ratio against its
anchor measured in the same run:

(1) adapter switching (`session.activate`) vs reloading base model + adapter (goal >= 20x);
(2) prefix-shared multiple choice (`crma-hf`) vs lm-eval's HFLM on HellaSwag-shaped requests
    (goal >= 2x, equal log-likelihoods);
(3) merged vs un-merged LoRA in batched generation (goal >= 1.3x);
(4) holdout loss vs a bare forward (goal >= 0.95) and vs HFLM's rolling log-likelihood;
    its peak memory vs the weights;
(5) adapter switch time with 5 and with 200 adapters loaded (goal: flat), vs PEFT's set_adapter.

Reproduce: .venv/bin/python benchmarks/bench_engine.py [--threads 1] [--docs 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, LlamaForCausalLM
from transformers.utils import logging as hf_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_ratios as er

from crma_eval.checkpoint import load_checkpoint, write_manifest
from crma_eval.checkpoint.sinkhorn import SinkhornCRMA
from crma_eval.config import EngineConfig
from crma_eval.demo.tinymodel import save_base, tiny_llama, wordlevel_tokenizer
from crma_eval.engine import EngineSession

DOMAINS = ["medical", "legal", "finance", "code", "science"]
VOCAB = 4000


def build_base(folder: Path) -> None:
    """A random Llama (4 layers, hidden 256) with a WordLevel tokenizer over VOCAB words."""
    tokenizer = wordlevel_tokenizer(words=[f"w{i}" for i in range(VOCAB - 4)])
    torch.manual_seed(0)
    model = tiny_llama(
        tokenizer,
        hidden=256,
        layers=4,
        heads=8,
        kv_heads=4,
        intermediate=688,
        max_positions=512,
        tie=False,
    )
    save_base(model, tokenizer, folder)


def build_checkpoint(base: Path, folder: Path) -> None:
    """A checkpoint with one random rank-16 LoRA adapter per domain and a Sinkhorn CRMA."""
    adapters = {}
    for i, domain in enumerate(DOMAINS):
        model = get_peft_model(
            LlamaForCausalLM.from_pretrained(base),
            LoraConfig(r=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
        )
        gen = torch.Generator().manual_seed(i)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_" in name:
                    param.copy_(torch.randn(param.shape, generator=gen) * 0.02)
        model.save_pretrained(folder / "adapters" / domain, safe_serialization=True)
        adapters[domain] = f"adapters/{domain}"
    SinkhornCRMA(hidden_size=256, layers=[1, 2], k=4).save(folder / "crma.safetensors")
    write_manifest(
        folder,
        {
            "format": "crma-checkpoint/1",
            "base_model": str(base),
            "domain_order": DOMAINS,
            "adapters": adapters,
            "crma": {"config": {"layers": [1, 2], "k": 4}, "weights": "crma.safetensors"},
            "training": {"condition": "modular", "seed": 0, "phase": len(DOMAINS)},
        },
    )


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Smallest wall time of `repeats` calls (least disturbed by other load on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_switching(session: EngineSession, ckpt, base: Path, repeats: int) -> tuple[float, float]:
    """Seconds per adapter switch (all loaded) and per reload of base model + adapter."""
    for domain in DOMAINS:
        session.activate(ckpt, domain, crma=True)
    plan = [(d, crma) for d in [*DOMAINS, None] for crma in (True, False)]

    def switch_all() -> None:
        for domain, crma in plan:
            session.activate(ckpt, domain, crma)

    switch = best_of(repeats, switch_all) / len(plan)
    assert session.stats["adapter_loads"] == len(DOMAINS)

    def reload_one() -> None:
        model = AutoModelForCausalLM.from_pretrained(base, use_safetensors=True)
        PeftModel.from_pretrained(model, str(ckpt.adapter_path("legal"))).eval()

    reload = best_of(repeats, reload_one)
    return switch, reload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--docs", type=int, default=100, help="multiple-choice documents")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    er.quiet_lm_eval()
    with tempfile.TemporaryDirectory() as tmp:
        base, folder = Path(tmp) / "base", Path(tmp) / "ckpt"
        build_base(base)
        build_checkpoint(base, folder)
        ckpt = load_checkpoint(folder)
        session = EngineSession(str(base), EngineConfig(batch_size=8, max_length=256))
        switch, reload = bench_switching(session, ckpt, base, args.repeats)
    shape = er.Shape(vocab=VOCAB, hidden=256, layers=4, heads=8, kv_heads=4, intermediate=688)
    model, tokenizer = er.build(shape, torch.float32, "cpu")
    mc = er.mc_ratio(model, tokenizer, VOCAB, args.docs, 8, args.repeats)
    hold = er.holdout_ratios(model, tokenizer, VOCAB, 32, 8, args.repeats)
    merge = er.merge_ratio(er.with_adapters(model, 8), tokenizer, VOCAB, 16, 24, 8, args.repeats)
    counts = er.switch_times(shape, torch.float32, "cpu", (5, 200), args.repeats)
    print(f"torch threads: {args.threads}; best of {args.repeats}; model: {shape}")
    print(
        f"adapter switch: {switch * 1e3:.3f} ms  reload base+adapter: {reload * 1e3:.1f} ms "
        f"-> {reload / switch:.0f}x (goal >= 20)"
    )
    ok = er.report("", mc, merge, hold, counts, tol=1e-4) and reload / switch >= 20
    print(
        f"reproduce: .venv/bin/python benchmarks/bench_engine.py --threads {args.threads} "
        f"--docs {args.docs} --repeats {args.repeats}"
    )
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
