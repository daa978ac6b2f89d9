"""Two-sample permutation test on the difference in means: exact when feasible, else Monte Carlo.

With a handful of seeds per condition the exact test has a hard floor (3 vs 3: two-sided
p >= 2/20 = 0.10), so the result carries that floor for the report to print beside p.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from crma_eval.stats._validate import check_choice, check_count, finite_sample

ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")

# Work in batches of about this many array elements to bound memory.
_BATCH_ELEMENTS = 2_000_000
# Relabellings whose difference is within this fraction of the data scale count as ties.
_RELATIVE_TIE = 1e-11


@dataclass(frozen=True)
class PermutationResult:
    """Permutation test of mean(a) - mean(b); `floor` is the smallest attainable p-value."""

    statistic: float
    pvalue: float
    exact: bool
    n_permutations: int
    floor: float


def _exact_sums(pooled: NDArray[np.float64], na: int) -> NDArray[np.float64]:
    """Sum of the first group under every relabelling, the observed labelling first."""
    combos = itertools.combinations(range(pooled.size), na)
    rows = max(1, _BATCH_ELEMENTS // na)
    parts = []
    while True:
        flat = np.fromiter(
            itertools.chain.from_iterable(itertools.islice(combos, rows)), dtype=np.intp
        )
        if flat.size == 0:
            break
        parts.append(pooled[flat.reshape(-1, na)].sum(axis=1))
    return np.concatenate(parts)


def _random_sums(
    pooled: NDArray[np.float64], na: int, n_resamples: int, seed: int
) -> NDArray[np.float64]:
    """Sum of the first group under `n_resamples` seeded random relabellings."""
    rng = np.random.default_rng(seed)
    rows = max(1, _BATCH_ELEMENTS // pooled.size)
    parts = []
    for start in range(0, n_resamples, rows):
        block = np.tile(pooled, (min(rows, n_resamples - start), 1))
        parts.append(rng.permuted(block, axis=1)[:, :na].sum(axis=1))
    return np.concatenate(parts)


def _differences(
    sums: NDArray[np.float64], total_sum: float, na: int, nb: int
) -> NDArray[np.float64]:
    """Difference in means implied by each first-group sum."""
    return sums / na - (total_sum - sums) / nb


def _exact_tails(
    pooled: NDArray[np.float64], na: int, observed: float, tol: float
) -> tuple[float, float, float, float]:
    """(p_greater, p_less, floor_greater, floor_less) over all relabellings."""
    sums = _exact_sums(pooled, na)
    diffs = _differences(sums, float(pooled.sum()), na, pooled.size - na)
    count = diffs.size
    return (
        np.count_nonzero(diffs >= observed - tol) / count,
        np.count_nonzero(diffs <= observed + tol) / count,
        np.count_nonzero(diffs >= diffs.max() - tol) / count,
        np.count_nonzero(diffs <= diffs.min() + tol) / count,
    )


def _monte_carlo_tails(
    pooled: NDArray[np.float64], na: int, observed: float, tol: float, n_resamples: int, seed: int
) -> tuple[float, float, float, float]:
    """(p_greater, p_less, floor_greater, floor_less) from seeded random relabellings."""
    sums = _random_sums(pooled, na, n_resamples, seed)
    diffs = _differences(sums, float(pooled.sum()), na, pooled.size - na)
    denominator = n_resamples + 1
    return (
        (1 + np.count_nonzero(diffs >= observed - tol)) / denominator,
        (1 + np.count_nonzero(diffs <= observed + tol)) / denominator,
        1 / denominator,
        1 / denominator,
    )


def _canonical(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    """True if (a, b) is the canonical order of the two groups (smaller group, then smaller
    sorted values first); Monte Carlo draws are made in that order."""
    if a.size != b.size:
        return bool(a.size < b.size)
    return bool(tuple(np.sort(a)) <= tuple(np.sort(b)))


def _two_sided(greater: float, less: float) -> float:
    """Two-sided p as twice the smaller one-sided p (scipy's convention), capped at 1."""
    return min(1.0, 2.0 * min(greater, less))


def permutation_test(
    a: ArrayLike,
    b: ArrayLike,
    alternative: str = "two-sided",
    max_exact: int = 10**6,
    seed: int = 0,
    n_resamples: int = 100_000,
) -> PermutationResult:
    """Permutation test of the difference in means mean(a) - mean(b).

    Exact when C(na+nb, na) <= max_exact: p is the share of all relabellings at least as extreme
    as the observed one (observed included; differences within 1e-11 of the data scale are ties).
    Otherwise seeded Monte Carlo (`exact=False`) with p = (1 + count) / (1 + n_resamples), drawn
    with the groups in a canonical order (values sorted), so permutation_test(b, a) mirrors
    permutation_test(a, b): the same two-sided p, greater and less swapped.
    Two-sided p is 2 * min(one-sided p), capped at 1, as scipy.stats.permutation_test; for
    distinct values the exact floor is then 2 / C(n, na) two-sided and 1 / C(n, na) one-sided.
    """
    xa, xb = finite_sample(a, "a"), finite_sample(b, "b")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    max_exact = check_count(max_exact, "max_exact")
    n_resamples, seed = check_count(n_resamples, "n_resamples"), check_count(seed, "seed")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    pooled = np.concatenate([np.sort(xa), np.sort(xb)])
    na = xa.size
    observed = float(_differences(np.array([xa.sum()]), float(pooled.sum()), na, xb.size)[0])
    tol = _RELATIVE_TIE * float(np.abs(pooled).max())
    n_labellings = math.comb(pooled.size, na)
    exact = n_labellings <= max_exact
    if exact:
        tails = _exact_tails(pooled, na, observed, tol)
    elif _canonical(xa, xb):
        tails = _monte_carlo_tails(pooled, na, observed, tol, n_resamples, seed)
    else:  # draw for (b, a) and mirror, so swapping the groups only swaps the tails
        mirror = np.concatenate([np.sort(xb), np.sort(xa)])
        g, le, fg, fl = _monte_carlo_tails(mirror, xb.size, -observed, tol, n_resamples, seed)
        tails = (le, g, fl, fg)
    p_greater, p_less, floor_greater, floor_less = tails
    pvalue, floor = {
        "greater": (p_greater, floor_greater),
        "less": (p_less, floor_less),
        "two-sided": (_two_sided(p_greater, p_less), _two_sided(floor_greater, floor_less)),
    }[alternative]
    return PermutationResult(
        statistic=float(np.mean(xa) - np.mean(xb)),
        pvalue=float(pvalue),
        exact=exact,
        n_permutations=n_labellings if exact else n_resamples,
        floor=float(floor),
    )
