"""Engine speed ratios, each against its anchor measured in the same process (shared by
bench_engine.py on CPU and gpu_check.py on a GPU).

Every timing is the best of `repeats` runs, the two sides interleaved, so a burst of load on a
shared machine hits both alike. Models are random Llamas built in-process (no downloads).
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer

from crma_eval.demo.tinymodel import tiny_llama, wordlevel_tokenizer
from crma_eval.engine import generation, loss
from crma_eval.engine.adapters import AdapterBank
from crma_eval.engine.batching import length_sorted_batches, pad_batch, pad_id_of, tokenize
from crma_eval.engine.prefix_lm import PrefixSharedLM

TARGETS = "all-linear"  # as the demo trains its adapters


@dataclass(frozen=True)
class Shape:
    """A random Llama's size."""

    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    max_positions: int = 2048


def build(shape: Shape, dtype: torch.dtype, device: str) -> tuple[Any, Any]:
    """(model, tokenizer): a random Llama of `shape` with a WordLevel tokenizer `w0 w1 ...`."""
    tokenizer = wordlevel_tokenizer(words=[f"w{i}" for i in range(shape.vocab - 4)])
    torch.manual_seed(0)
    with torch.device(device):
        model = tiny_llama(
            tokenizer,
            hidden=shape.hidden,
            layers=shape.layers,
            heads=shape.heads,
            kv_heads=shape.kv_heads,
            intermediate=shape.intermediate,
            max_positions=shape.max_positions,
            tie=False,
        )
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False), tokenizer


def with_adapters(model: Any, n: int, rank: int = 16) -> PeftModel:
    """`model` wrapped with `n` random rank-`rank` LoRA adapters `a0..` on the attention.

    Adapters after the first are added layer by layer (`LoraLayer.update_layer`), since
    `PeftModel.add_adapter` re-walks the model each time (quadratic in n).
    """
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=TARGETS)
    peft = get_peft_model(model, config, adapter_name="a0")
    layers = [m for m in peft.modules() if isinstance(m, LoraLayer)]
    for i in range(1, n):
        peft.peft_config[f"a{i}"] = config
        for layer in layers:
            layer.update_layer(f"a{i}", rank, 2 * rank, config)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen).to(param) * 0.02)
    return peft.eval().requires_grad_(False)


def best(repeats: int, *fns: Callable[[], object]) -> list[float]:
    """Smallest wall time of each function over `repeats` interleaved rounds (lm-eval's
    progress bars and warnings go to a sink)."""
    times = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            _sync()
            start = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                fn()
            _sync()
            times[k] = min(times[k], time.perf_counter() - start)
    return times


def quiet_lm_eval() -> None:
    """lm-eval logs a warning per HFLM built from a live model; keep the bench output ours."""
    logging.getLogger("lm_eval").setLevel(logging.ERROR)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def words(rng: random.Random, vocab: int, n: int) -> str:
    return " ".join(f"w{rng.randrange(vocab - 4)}" for _ in range(n))


def mc_ratio(
    model: Any, tokenizer: Any, vocab: int, docs: int, batch: int, repeats: int
) -> dict[str, float]:
    """HellaSwag-shaped requests (~80-token context, 4 endings of ~20 tokens, `docs` docs):
    HFLM vs prefix-shared `crma-hf`; also the largest log-likelihood difference and whether
    every document picks the same ending."""
    rng = random.Random(0)
    requests = []
    for d in range(docs):
        ctx = words(rng, vocab, rng.randint(70, 90))
        for e in range(4):
            requests.append(
                Instance(
                    "loglikelihood",
                    {},
                    (ctx, " " + words(rng, vocab, rng.randint(15, 25))),
                    idx=e,
                    metadata=("mc", d, 1),
                )
            )
    hflm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch)
    ours = PrefixSharedLM(pretrained=model, tokenizer=tokenizer, batch_size=batch)
    out: dict[str, list[Any]] = {}
    t_hflm, t_ours = best(
        repeats,
        lambda: out.__setitem__("h", hflm.loglikelihood(requests, disable_tqdm=True)),
        lambda: out.__setitem__("o", ours.loglikelihood(requests, disable_tqdm=True)),
    )
    diff = max(abs(a[0] - b[0]) for a, b in zip(out["h"], out["o"], strict=True))
    picks = [
        [max(range(4), key=lambda e: res[4 * d + e][0]) for d in range(docs)]
        for res in (out["h"], out["o"])
    ]
    return {
        "hflm_s": t_hflm,
        "ours_s": t_ours,
        "speedup": t_hflm / t_ours,
        "max_abs_diff": diff,
        "same_choices": sum(a == b for a, b in zip(*picks, strict=True)) / docs,
    }


def merge_ratio(
    peft: PeftModel,
    tokenizer: Any,
    vocab: int,
    prompts: int,
    new_tokens: int,
    batch: int,
    repeats: int,
) -> dict[str, float]:
    """Batched greedy generation with adapter a1 un-merged vs merged (merge + unmerge timed)."""
    bank = AdapterBank(peft.get_base_model())
    bank.peft, bank._dirty = peft, True
    bank.switch("a1")
    rng = random.Random(1)
    texts = [words(rng, vocab, rng.randint(20, 60)) for _ in range(prompts)]
    device = next(peft.parameters()).device
    out: dict[str, list[str]] = {}

    def run(key: str) -> None:
        out[key] = generation.generate(
            peft,
            tokenizer,
            texts,
            max_new_tokens=new_tokens,
            stop=[],
            batch_size=batch,
            max_length=512,
            device=device,
        )

    def merged() -> None:
        saved = bank.merge_active()
        try:
            run("m")
        finally:
            bank.unmerge(saved)

    t_plain, t_merged = best(repeats, lambda: run("u"), merged)
    same = sum(a == b for a, b in zip(out["u"], out["m"], strict=True)) / len(texts)
    return {
        "unmerged_s": t_plain,
        "merged_s": t_merged,
        "speedup": t_plain / t_merged,
        "same_text_share": same,
    }


def holdout_ratios(
    model: Any, tokenizer: Any, vocab: int, texts: int, batch: int, repeats: int
) -> dict[str, float]:
    """Tokens/s of holdout_loss vs a bare forward over the same batches and vs HFLM's rolling
    log-likelihood; peak memory of holdout_loss over the weights' size (CUDA: measured; CPU:
    largest logits block held, against the full-logits size)."""
    rng = random.Random(2)
    data = [words(rng, vocab, rng.randint(64, 250)) for _ in range(texts)]
    device = next(model.parameters()).device
    seqs = tokenize(tokenizer, data, 512)
    batches = [
        pad_batch([seqs[i] for i in b], pad_id_of(tokenizer), "right", device)
        for b in length_sorted_batches([len(s) for s in seqs], batch)
    ]

    @torch.inference_mode()
    def bare() -> None:
        for ids, mask in batches:
            model(input_ids=ids, attention_mask=mask).logits  # noqa: B018

    def ours() -> None:
        loss.holdout_loss(model, tokenizer, data, batch_size=batch, max_length=512, device=device)

    hflm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch, max_length=512)
    rolling = [
        Instance("loglikelihood_rolling", {}, (t,), idx=0, metadata=("r", i, 1))
        for i, t in enumerate(data)
    ]
    t_loss, t_bare, t_hflm = best(
        repeats, ours, bare, lambda: hflm.loglikelihood_rolling(rolling, disable_tqdm=True)
    )
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    widest = max(ids.shape[1] for ids, _ in batches)
    full_logits = batch * widest * model.config.vocab_size * 4
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        ours()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = min(full_logits, loss.LOGIT_BUDGET * 4)
    return {
        "vs_bare": t_bare / t_loss,
        "vs_hflm": t_hflm / t_loss,
        "peak_over_weights": peak / weights,
        "full_logits_over_weights": full_logits / weights,
    }


def _switch_row(shape: Shape, dtype: torch.dtype, device: str, n: int, repeats: int) -> dict:
    model, _ = build(shape, dtype, device)
    peft = with_adapters(model, n, rank=8)
    bank = AdapterBank(model)
    bank.peft, bank._dirty = peft, True
    names = ["a0", "a1", "a2", "a3"]

    def ours() -> None:
        for name in names:
            bank.switch(name)

    def theirs() -> None:
        for name in names:
            peft.set_adapter(name)

    t_ours, t_peft = best(repeats, ours, theirs)
    ids = torch.tensor([[5, 6, 7, 8]], device=device)
    with torch.no_grad():
        bank._dirty = True
        bank.switch("a2")
        a = peft(input_ids=ids).logits
        peft.set_adapter("a2")
        b = peft(input_ids=ids).logits
    return {
        "ours_ms": 1e3 * t_ours / len(names),
        "peft_ms": 1e3 * t_peft / len(names),
        "identical": float(torch.equal(a, b)),
    }


def switch_times(
    shape: Shape, dtype: torch.dtype, device: str, counts: tuple[int, ...], repeats: int
) -> dict[int, dict[str, float]]:
    """Milliseconds per adapter switch with `n` adapters loaded: ours (layer flags) vs PEFT's
    `set_adapter`, and whether the logits after a switch are identical for both."""
    return {n: _switch_row(shape, dtype, device, n, repeats) for n in counts}


def report(
    prefix: str, mc: dict, merge: dict, hold: dict, switch: dict, tol: float, same: float = 1.0
) -> bool:
    """Print every ratio with its anchor; True when every goal is met (`tol`: largest allowed
    log-likelihood difference between HFLM and crma-hf, 1e-4 in float32; `same`: least share
    of documents choosing the same answer, 1 in float32; bf16 rounds differently per kernel)."""
    print(
        f"{prefix}prefix-shared MC: HFLM {mc['hflm_s']:.3f} s, crma-hf {mc['ours_s']:.3f} s -> "
        f"{mc['speedup']:.2f}x (goal >= 2); max |dlogL| {mc['max_abs_diff']:.2e}, "
        f"same choices: {mc['same_choices']:.1%}"
    )
    print(
        f"{prefix}merged generation: un-merged {merge['unmerged_s']:.3f} s, merged "
        f"{merge['merged_s']:.3f} s -> {merge['speedup']:.2f}x (goal >= 1.3); identical "
        f"answers {merge['same_text_share']:.0%}"
    )
    print(
        f"{prefix}holdout loss throughput: {hold['vs_bare']:.3f} of a bare forward "
        f"(goal >= 0.95), {hold['vs_hflm']:.2f}x HFLM rolling loglikelihood"
    )
    print(
        f"{prefix}holdout loss peak memory: {hold['peak_over_weights']:.2f}x the weights "
        f"(full logits would be {hold['full_logits_over_weights']:.2f}x)"
    )
    for n, row in switch.items():
        print(
            f"{prefix}adapter switch with {n} loaded: {row['ours_ms']:.3f} ms "
            f"(PEFT set_adapter {row['peft_ms']:.3f} ms); identical logits: "
            f"{bool(row['identical'])}"
        )
    counts = sorted(switch)
    flat = switch[counts[-1]]["ours_ms"] < 3 * switch[counts[0]]["ours_ms"] + 0.02
    return bool(
        mc["speedup"] >= 2
        and mc["max_abs_diff"] <= tol
        and mc["same_choices"] >= same
        and merge["speedup"] >= 1.3
        and hold["vs_bare"] >= 0.95
        and flat
        and all(r["identical"] for r in switch.values())
    )
