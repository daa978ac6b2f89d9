"""Scaling of `crma-eval run --executor ray`: measured overhead here, modelled speed-up on N GPUs.

Part 1 (measured): a small tiny-model config (3 checkpoints; drift, qa, spectral) runs serially and
with `--executor ray --workers 2` on a private local cluster. Reported: wall seconds of each, the
overhead (ray - serial) and ratio, the cluster start-up (ray.init + actors ready, timed in
isolation) and the merge (shards -> records/ in plan order, re-timed on the finished shards).
On a 2-core box the two actors compete for the cores, so the ratio is the price of Ray, not a
speed-up: the units are milliseconds, the start-up seconds.

Part 2 (model): T(N) ≈ start + load + max(W/N, largest group), checked against a
longest-processing-time-first simulation of the 45-checkpoint study (5 phases × 3 conditions ×
3 seeds; 5 domains of loss and QA per checkpoint; 6 lm-eval tasks before and after). Per-unit
minutes are the issue's assumptions for a 7B model on one GPU (loss 1, QA 2 per arm, a benchmark
10, MMLU 30); start-up is the one measured in part 1, model load an assumption (1 min).

Run: .venv/bin/python benchmarks/bench_scaling.py
"""

from __future__ import annotations

import heapq
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def small_config(root: Path) -> Path:
    """Write the tiny-model config (3 modular checkpoints, drift/qa/spectral)."""
    import tinymodel as tm

    return tm.write_modular_run_config(root, "scaling", [("the judge reads", "in_domain", "legal")])


def measure(root: Path) -> dict[str, float]:
    """Wall seconds: serial run, ray run, ray start-up alone, merge alone."""
    import ray

    from crma_eval.collect.executors.ray_exec import RayExecutor
    from crma_eval.collect.shards import Merger, committed_units, shard_dirs
    from crma_eval.config import load_config
    from crma_eval.run import run_config
    from crma_eval.store import RunDir

    config = load_config(small_config(root))
    t0 = time.perf_counter()
    run_config(config, root / "serial", quiet=True)
    t1 = time.perf_counter()
    run_config(config, root / "ray", quiet=True, executor=RayExecutor(workers=2, quiet=True))
    t2 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    probe = ray.remote(num_cpus=1)(lambda: 1)
    ray.get([probe.remote() for _ in range(2)])
    t3 = time.perf_counter()
    ray.shutdown()
    merged = RunDir(root / "merged").ensure()
    shutil.copytree(root / "ray" / "shards", merged.path / "shards")
    plan = [e["unit"] for e in RunDir(root / "serial").ledger()]
    t4 = time.perf_counter()
    merger = Merger(merged, plan)
    for shard in shard_dirs(merged):
        merger.offer(committed_units(shard).values())
    merger.advance()
    t5 = time.perf_counter()
    return {"serial": t1 - t0, "ray": t2 - t1, "start": t3 - t2, "merge": t5 - t4,
            "units": len(plan)}  # fmt: skip


def study_units() -> list[tuple[str, float]]:
    """(group, minutes) of every group of the 45-checkpoint study (issue 14's assumed costs)."""
    groups = [(f"ckpt{i}", 5 * 1.0 + 5 * 2 * 2.0) for i in range(45)]  # loss + QA × 2 arms
    for arm in ("before", "after"):
        groups += [(f"{arm}:mmlu", 30.0)] + [(f"{arm}:task{j}", 10.0) for j in range(5)]
    return groups


def lpt_makespan(costs: list[float], n: int) -> float:
    """Makespan of largest-first dispatch to whichever of n workers is free (Graham 1969)."""
    free = [0.0] * n
    for cost in sorted(costs, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        m = measure(Path(tmp))
    overhead = m["ray"] - m["serial"]
    print(f"small config: {m['units']:.0f} units on the tiny model, 2 workers, this machine")
    print(f"  serial run              {m['serial']:7.1f} s")
    print(f"  ray run (2 actors)      {m['ray']:7.1f} s")
    ratio = m["ray"] / m["serial"]
    print(f"  overhead                {overhead:7.1f} s   ratio ray/serial {ratio:.2f}")
    print(f"  of which cluster start  {m['start']:7.1f} s   (ray.init + 2 workers ready)")
    print(f"  merge of all shards     {m['merge']:7.3f} s")
    groups = [c for _, c in study_units()]
    work, largest = sum(groups), max(groups)
    start, load = m["start"] / 60, 1.0
    print(f"\n45-checkpoint study: W = {work:.0f} GPU-min, {len(groups)} groups, max {largest:.0f}")
    print("   N   model T(N) min   LPT sim min   speed-up")
    for n in (1, 2, 4, 8, 16, 24, 32, 48, 64):
        model = start + load + max(work / n, largest)
        sim = start + load + lpt_makespan(groups, n)
        print(f"{n:4d}   {model:12.1f}   {sim:11.1f}   {(start + load + work) / sim:8.1f}")
    print(
        f"scaling stops near N = W / largest = {work / largest:.0f} GPUs: beyond, the largest group"
        f" (MMLU, {largest:.0f} min) bounds T; splitting MMLU by subtask would lift the bound."
    )
    print("reproduce: .venv/bin/python benchmarks/bench_scaling.py")


if __name__ == "__main__":
    main()
