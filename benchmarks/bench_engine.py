"""Benchmark the engine session on a random 4-layer, 256-wide Llama on CPU.

(1) adapter switching (`session.activate`) vs reloading base model + adapter per adapter
    (target: switching at least 20x faster);
(2) `session.holdout_loss` throughput vs a bare batched forward pass over the same token batches
    (target: at least 0.9x).

Reproduce: .venv/bin/python benchmarks/bench_engine.py [--threads 1] [--texts 96] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, LlamaForCausalLM
from transformers.utils import logging as hf_logging

from crma_eval.checkpoint import load_checkpoint, write_manifest
from crma_eval.checkpoint.sinkhorn import SinkhornCRMA
from crma_eval.config import EngineConfig
from crma_eval.demo.tinymodel import save_base, tiny_llama, wordlevel_tokenizer
from crma_eval.engine import EngineSession
from crma_eval.engine.batching import length_sorted_batches, pad_batch, pad_id_of, tokenize

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


def bench_throughput(session: EngineSession, texts: list[str], repeats: int) -> tuple[float, float]:
    """Tokens per second of holdout_loss and of a bare forward over the same padded batches."""
    engine = session.engine
    seqs = tokenize(session.tokenizer, texts, engine.max_length)
    batches = [
        pad_batch([seqs[i] for i in b], pad_id_of(session.tokenizer), "right", session.device)
        for b in length_sorted_batches([len(s) for s in seqs], engine.batch_size)
    ]

    @torch.inference_mode()
    def bare() -> None:
        for ids, mask in batches:
            session.model(input_ids=ids, attention_mask=mask).logits  # noqa: B018

    n_tokens = session.holdout_loss(texts)[1]
    bare()  # warm-up
    t_loss, t_bare = [], []
    for _ in range(repeats):  # interleaved, so a burst of load on the machine hits both alike
        t_loss.append(best_of(1, lambda: session.holdout_loss(texts)))
        t_bare.append(best_of(1, bare))
    return n_tokens / min(t_loss), n_tokens / min(t_bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--texts", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    rng = random.Random(0)
    texts = [
        " ".join(f"w{rng.randrange(VOCAB - 4)}" for _ in range(rng.randint(32, 200)))
        for _ in range(args.texts)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        base, folder = Path(tmp) / "base", Path(tmp) / "ckpt"
        build_base(base)
        build_checkpoint(base, folder)
        ckpt = load_checkpoint(folder)
        session = EngineSession(str(base), EngineConfig(batch_size=8, max_length=256))
        switch, reload = bench_switching(session, ckpt, base, args.repeats)
        session.activate(ckpt, "legal", crma=True)
        tps_loss, tps_bare = bench_throughput(session, texts, args.repeats)
    ratio_switch, ratio_tput = reload / switch, tps_loss / tps_bare
    print(f"torch threads: {args.threads}; texts: {args.texts}; best of {args.repeats}")
    print(f"adapter switch: {switch * 1e3:.3f} ms  reload base+adapter: {reload * 1e3:.1f} ms")
    print(f"  switching speed-up: {ratio_switch:.0f}x (target >= 20x)")
    print(f"holdout_loss: {tps_loss:.0f} tok/s  bare forward: {tps_bare:.0f} tok/s")
    print(f"  throughput ratio: {ratio_tput:.3f} (target >= 0.9)")
    print(
        f"reproduce: .venv/bin/python benchmarks/bench_engine.py --threads {args.threads} "
        f"--texts {args.texts} --repeats {args.repeats}"
    )
    ok = ratio_switch >= 20 and ratio_tput >= 0.9
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
