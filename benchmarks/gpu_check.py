"""One prepared GPU check (< 5 minutes on one GPU): the engine's speed ratios on a random
1B-shaped Llama (hidden 2048, 16 layers, 32 heads / 8 KV heads, vocabulary 128256) in bf16
with 8 LoRA adapters, each against its anchor measured in the same run.

Reproduce: python benchmarks/gpu_check.py            (GPU, bf16)
           python benchmarks/gpu_check.py --small    (CPU, float32, a 4-layer 256-wide Llama)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from transformers.utils import logging as hf_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_ratios as er

ONE_B = er.Shape(vocab=128256, hidden=2048, layers=16, heads=32, kv_heads=8, intermediate=8192)
SMALL = er.Shape(vocab=4000, hidden=256, layers=4, heads=8, kv_heads=4, intermediate=688)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="CPU, float32, tiny model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads with --small")
    args = parser.parse_args()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    er.quiet_lm_eval()
    if args.small:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    device = "cpu" if args.small or not torch.cuda.is_available() else "cuda"
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    shape = SMALL if args.small else ONE_B
    sizes = (
        {"docs": 24, "batch": 8, "prompts": 16, "new": 16, "texts": 16}
        if args.small
        else {"docs": 200, "batch": 32, "prompts": 64, "new": 64, "texts": 64}
    )
    print(
        f"device: {device} ({torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}), "
        f"dtype: {dtype}, model: {shape}, best of {args.repeats}"
    )
    model, tokenizer = er.build(shape, dtype, device)
    mc = er.mc_ratio(model, tokenizer, shape.vocab, sizes["docs"], sizes["batch"], args.repeats)
    hold = er.holdout_ratios(model, tokenizer, shape.vocab, sizes["texts"], 8, args.repeats)
    peft = er.with_adapters(model, 8)
    merge = er.merge_ratio(
        peft, tokenizer, shape.vocab, sizes["prompts"], sizes["new"], sizes["batch"], args.repeats
    )
    del peft, model
    narrow = er.Shape(
        vocab=4000, hidden=256, layers=shape.layers, heads=8, kv_heads=4, intermediate=688
    )
    switch = er.switch_times(narrow, dtype, device, (5, 200), args.repeats)
    exact = dtype == torch.float32
    ok = er.report(
        "", mc, merge, hold, switch, tol=1e-4 if exact else 0.5, same=1 if exact else 0.97
    )
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    small = f" --small --threads {args.threads}" if args.small else ""
    print(f"reproduce: python benchmarks/gpu_check.py{small} --repeats {args.repeats}")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
