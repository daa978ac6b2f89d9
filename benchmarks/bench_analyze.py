"""Benchmark: `crma-eval analyze` on 1 million QA records (target: under 30 s on 2 cores).

Reproduce: .venv/bin/python benchmarks/bench_analyze.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_records(path: Path, n: int, seed: int = 0) -> None:
    """Write n QA records: two arms over n/2 shared items in 5 domains."""
    rng = np.random.default_rng(seed)
    items = n // 2
    frame = pd.DataFrame(
        {
            "kind": "qa",
            "arm": np.repeat(["with_crma", "without_crma"], items),
            "domain": np.tile(np.array([f"domain{i % 5}" for i in range(items)]), 2),
            "item_id": np.tile(np.arange(items).astype(str), 2),
            "correct": np.concatenate([rng.random(items) < 0.9, rng.random(items) < 0.6]),
        }
    )
    frame.to_json(path, orient="records", lines=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        records = Path(tmp) / "qa.jsonl"
        make_records(records, args.n)
        cmd = [sys.executable, "-m", "crma_eval", "analyze", str(records), "--out", f"{tmp}/run"]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
    verdict = "PASS" if elapsed < 30 else "FAIL"
    print(f"analyze of {args.n:,} QA records: {elapsed:.1f} s wall (target < 30 s): {verdict}")
    print(f"command: {sys.executable} benchmarks/bench_analyze.py --n {args.n}")


if __name__ == "__main__":
    main()
