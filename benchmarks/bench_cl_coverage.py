"""Coverage of the cl plugin's item-cluster bootstrap intervals, by simulation.

Each replicate draws fresh items from a population and answers them under fixed per-seed true
matrices q[s, i, j] (the trained models are fixed; items are the sampled unit): item i of domain j
has p = q + u_i, u_i ~ U(-0.15, 0.15) (so E[p] = q exactly), and one uniform per item and seed is
shared by every phase (correct = U < p), so an item's answers are strongly correlated across rows
as for a real model. The estimand is the metric of q averaged over seeds. Records go through
`analyze_cl` like any run. Prints the measured coverage of each metric's interval and the command.

    .venv/bin/python benchmarks/bench_cl_coverage.py [--reps 200] [--items 40] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from crma_eval.api import AnalyzeOptions
from crma_eval.plugins.cl.analysis import analyze_cl
from crma_eval.plugins.cl.metrics import all_metrics

ORDER = ["d1", "d2", "d3", "d4"]
SPREAD = 0.15
# Per seed: forgetting of early domains, learning on the diagonal, a little forward transfer.
TRUE = np.array(
    [
        [
            [0.2, 0.2, 0.25, 0.2],
            [0.8, 0.25, 0.25, 0.2],
            [0.6, 0.85, 0.3, 0.25],
            [0.5, 0.7, 0.8, 0.3],
            [0.45, 0.6, 0.7, 0.8],
        ],
        [
            [0.2, 0.2, 0.25, 0.2],
            [0.75, 0.3, 0.25, 0.2],
            [0.65, 0.8, 0.3, 0.25],
            [0.55, 0.65, 0.8, 0.35],
            [0.5, 0.55, 0.75, 0.8],
        ],
    ]
)
JOINT = np.array([0.8, 0.8, 0.8, 0.8])


def replicate(rng: np.random.Generator, n_items: int) -> pd.DataFrame:
    """qa records of one simulated study: 2 seeds, base row + 4 phases, joint reference."""
    S, R, T = TRUE.shape
    u = rng.uniform(-SPREAD, SPREAD, size=(T, n_items))
    p = np.clip(TRUE[:, :, :, None] + u[None, None], 0, 1)  # [S, R, T, n]
    draws = rng.uniform(size=(S, 1, T, n_items))
    correct = draws < p
    s, r, c, i = np.meshgrid(range(S), range(R), range(T), range(n_items), indexing="ij")
    frame = pd.DataFrame(
        {
            "kind": "qa",
            "arm": "a",
            "condition": "c",
            "seed": s.ravel(),
            "after_phase": r.ravel(),
            "domain": np.array(ORDER)[c.ravel()],
            "item_id": [f"{ORDER[x]}-{y}" for x, y in zip(c.ravel(), i.ravel(), strict=True)],
            "correct": correct.ravel(),
        }
    )
    joint_ok = rng.uniform(size=(T, n_items)) < np.clip(JOINT[:, None] + u, 0, 1)
    joint = pd.DataFrame(
        {
            "kind": "qa",
            "arm": "a",
            "condition": "joint",
            "seed": 0,
            "after_phase": T,
            "domain": np.repeat(ORDER, n_items),
            "item_id": [f"{d}-{y}" for d in ORDER for y in range(n_items)],
            "correct": joint_ok.ravel(),
        }
    )
    out = pd.concat([frame, joint], ignore_index=True)
    return out.assign(domain_order=[ORDER] * len(out), _file="sim", _line=np.arange(len(out)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    truth = {k: float(np.mean(v)) for k, v in all_metrics(TRUE, JOINT).items()}
    rng = np.random.default_rng(12345)
    hits = {k: 0 for k in truth}
    width = {k: 0.0 for k in truth}
    started = time.perf_counter()
    for rep in range(args.reps):
        options = AnalyzeOptions(seed=rep, extra={"cl": {"n_resamples": args.resamples}})
        result = analyze_cl({"qa": replicate(rng, args.items)}, options)
        assert result is not None
        m = result.metrics
        for name, value in truth.items():
            low, high = m[f"cl.c.{name}.ci_low"], m[f"cl.c.{name}.ci_high"]
            hits[name] += low <= value <= high
            width[name] += (high - low) / args.reps
    seconds = time.perf_counter() - started
    print("command: " + " ".join([sys.executable, *sys.argv]))
    print(
        f"{args.reps} simulated studies, {args.items} items x {len(ORDER)} domains, 2 seeds, "
        f"B = {args.resamples}, nominal 95%, {seconds:.0f} s"
    )
    print(f"{'metric':<22}{'truth':>8}{'coverage':>10}{'mean width':>12}")
    for name, value in truth.items():
        print(f"{name:<22}{value:>8.3f}{hits[name] / args.reps:>10.3f}{width[name]:>12.3f}")


if __name__ == "__main__":
    main()
