"""Benchmark: `crma-eval report` on 100,000 QA items over 50 domains, 3 seeds and 4 arms.

Target (issue 11): ≤ 5 s and ≤ 5 MB for report.html, with the complete item lists beside it.
Prints what it measured and the command to reproduce it. Not a unit test.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

from crma_eval.analyze import analyze_paths
from crma_eval.records import write_records
from crma_eval.report.render import render_report

ARMS = ["with_crma", "without_crma", "frozen", "naive"]
N_DOMAINS, N_SEEDS, N_ITEMS = 50, 3, 100_000


def records() -> list[dict]:
    """At least 100,000 qa records: 4 arms × 3 seeds × 50 domains × ceil(items per cell)."""
    rng = random.Random(0)
    per = -(-N_ITEMS // (len(ARMS) * N_SEEDS * N_DOMAINS))
    out = []
    for arm_index, arm in enumerate(ARMS):
        for seed in range(N_SEEDS):
            for d in range(N_DOMAINS):
                for i in range(per):
                    out.append(
                        {
                            "kind": "qa",
                            "arm": arm,
                            "domain": f"domain_{d:02d}",
                            "item_id": f"q{i}",
                            "seed": seed,
                            "correct": rng.random() < 0.9 - 0.1 * arm_index,
                            "question": f"Question {i} of domain {d}?",
                            "reference": "42",
                            "prediction": str(rng.randint(0, 99)),
                        }
                    )
    return out  # >= N_ITEMS: every arm answers the same items (paired arms must match)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "qa.jsonl"
        recs = records()
        write_records(data, recs)
        run = Path(tmp) / "run"
        analyze_paths([data], run)
        start, cpu = time.perf_counter(), time.process_time()
        path = render_report(run)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = path.stat().st_size
        items = sum(p.stat().st_size for p in (run / "items").glob("*.csv"))
        shape = f"{N_DOMAINS} domains, {N_SEEDS} seeds, {len(ARMS)} arms"
        print(f"records: {len(recs):,} qa items, {shape}")
        load = os.getloadavg()[0]
        print(
            f"crma-eval report: {cpu:.2f} s CPU (target ≤ 5 s), {seconds:.2f} s wall "
            f"(load average {load:.1f} on {os.cpu_count()} cores; imports already done by analyze)"
        )
        print(f"report.html: {size / 1e6:.2f} MB (target ≤ 5 MB); item lists: {items / 1e6:.1f} MB")
        print("reproduce: .venv/bin/python benchmarks/bench_report.py")
        return 0 if cpu <= 5 and size <= 5e6 else 1  # CPU time: wall time depends on the load


if __name__ == "__main__":
    sys.exit(main())
