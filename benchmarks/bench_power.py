"""Benchmark: do `crma-eval plan` sizes and the printed MDEs reach the stated power?

Simulates data at the planned sizes and runs the tests the harness runs:
1. paired binary: McNemar exact (two-sided) at the planned pairs, and at the MDE of n pairs;
2. clustered items (ICC > 0, m answers per item): the item-level sign-flip test (crma_eval's
   sign_flip_test, Monte Carlo) and the t test on item means, at the planned items;
3. seeds: Welch's t and the exact permutation test (crma_eval's) at the planned seeds.
Each answer of an item takes the item's shared discordance draw with probability sqrt(ICC)
(else its own), so the ICC of the per-answer differences is exactly the stated one. Seeded.

Reproduce: .venv/bin/python benchmarks/bench_power.py [--reps 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from crma_eval.plan.planner import Targets, plan_stated
from crma_eval.stats import permutation_test, sign_flip_test
from crma_eval.stats.power import paired_binary_mde


def mcnemar_power(n: int, psi: float, delta: float, reps: int, rng: np.random.Generator) -> float:
    counts = rng.multinomial(n, [(psi + delta) / 2, (psi - delta) / 2, 1 - psi], size=reps)
    b, c = counts[:, 0], counts[:, 1]
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), b + c, 0.5))
    return float(np.mean(p < 0.05))


def clustered_differences(
    items: int, m: int, psi: float, delta: float, icc: float, rng: np.random.Generator
) -> np.ndarray:
    """Per-answer differences (items x m) in {-1, 0, 1} with this ICC (shared-draw mixture)."""
    probs = [(psi + delta) / 2, (psi - delta) / 2, 1 - psi]
    values = np.array([1.0, -1.0, 0.0])
    own = values[rng.choice(3, size=(items, m), p=probs)]
    shared = values[rng.choice(3, size=(items, 1), p=probs)]
    # each answer takes the shared draw with probability sqrt(icc): two answers of one item are
    # equal through it with probability icc, so their correlation is exactly icc
    use_shared = rng.random((items, m)) < np.sqrt(icc)
    return np.where(use_shared, shared, own)


def clustered_power(
    items: int, m: int, psi: float, delta: float, icc: float, reps: int, rng: np.random.Generator
) -> tuple[float, float]:
    """(sign-flip power on a subset of reps, t-on-item-means power)."""
    t_hits, flip_hits, flip_reps = 0, 0, max(1, reps // 10)
    for r in range(reps):
        means = clustered_differences(items, m, psi, delta, icc, rng).mean(axis=1)
        if np.all(means == 0):
            continue
        t_hits += stats.ttest_1samp(means, 0.0).pvalue < 0.05
        if r < flip_reps:
            flip_hits += sign_flip_test(means, n_resamples=2000, seed=r).pvalue < 0.05
    return flip_hits / flip_reps, t_hits / reps


def seeds_power(n: int, sd: float, diff: float, reps: int, rng: np.random.Generator) -> tuple:
    a = rng.normal(diff, sd, size=(reps, n))
    b = rng.normal(0.0, sd, size=(reps, n))
    welch = float(np.mean(stats.ttest_ind(a, b, equal_var=False, axis=1).pvalue < 0.05))
    perm_reps = max(1, reps // 20)
    perm = np.mean([permutation_test(a[i], b[i]).pvalue < 0.05 for i in range(perm_reps)])
    return welch, float(perm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print("target power 0.80, two-sided alpha 0.05; empirical power by simulation")
    print(
        f"reps {args.reps} (sign flips on reps/10, permutation tests on reps/20), seed {args.seed}"
    )
    print("\n1. paired binary (McNemar exact) at the planned pairs")
    for psi, delta in ((0.1, 0.03), (0.2, 0.05), (0.3, 0.1), (0.05, 0.02)):
        (plan,) = plan_stated(Targets(drop=delta), None, psi, 0.0, 1, None)
        n = plan.needed["items"]
        power = mcnemar_power(n, psi, delta, args.reps, rng)
        print(f"   discordance {psi:<5g} drop {delta:<5g} planned pairs {n:>6}  power {power:.3f}")
    print("\n   MDE printed beside a comparison of n pairs, simulated at that drop")
    for n, psi in ((100, 0.2), (500, 0.1), (2000, 0.05)):
        mde = paired_binary_mde(n, psi).value
        power = mcnemar_power(n, max(psi, mde), mde, args.reps, rng)
        print(f"   n {n:>5} discordance {psi:<5g} MDE {mde:.4f}  power {power:.3f}")
    print("\n2. clustered items (ICC, m answers per item): sign flips / t on item means")
    for psi, delta, icc, m in ((0.2, 0.05, 0.3, 3), (0.15, 0.05, 0.6, 5), (0.3, 0.1, 0.1, 2)):
        (plan,) = plan_stated(Targets(drop=delta), None, psi, icc, m, None)
        items = plan.needed["items"]
        flip, t = clustered_power(items, m, psi, delta, icc, args.reps, rng)
        print(
            f"   discordance {psi:<5g} drop {delta:<5g} ICC {icc:<4g} m {m}: planned items "
            f"{items:>5}  power sign-flip {flip:.3f}  t {t:.3f}"
        )
    print("\n3. seeds (per-seed drift ~ normal): Welch t / exact permutation")
    for sd, diff in ((0.5, 1.0), (1.0, 1.0), (0.2, 1.0)):
        (plan,) = plan_stated(Targets(drift_diff=diff), None, None, 0.0, 1, sd)
        n = plan.needed["seeds"]
        welch, perm = seeds_power(n, sd, diff, args.reps, rng)
        print(
            f"   sd {sd:<4g} difference {diff:g} pp: planned seeds {n:>3}  power Welch "
            f"{welch:.3f}  permutation {perm:.3f}"
        )
    print(f"\nelapsed {time.perf_counter() - start:.1f} s")
    print(
        "reproduce: .venv/bin/python benchmarks/bench_power.py "
        f"--reps {args.reps} --seed {args.seed}"
    )


if __name__ == "__main__":
    main()
