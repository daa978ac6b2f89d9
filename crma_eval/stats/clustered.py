"""Repeated measures: item-clustered accuracy intervals and item-level paired sign-flip tests.

When one item is answered several times (under several seeds or checkpoints) the answers are not
independent; the unit of analysis is the item (Miller 2024, "Adding Error Bars to Evals",
arXiv 2411.00640, section 2.2: cluster-robust standard errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from crma_eval.stats._validate import (
    check_choice,
    check_confidence,
    check_count,
    clip_unit,
    finite_sample,
)
from crma_eval.stats.permutation import ALTERNATIVES

CLUSTERED_METHOD = "clustered-cr1"
SIGN_FLIP_METHOD = "sign-flip-permutation"
_BATCH_ROWS = 1 << 16
# Sign flips whose sum is within this fraction of the largest |difference| count as ties.
_RELATIVE_TIE = 1e-9


@dataclass(frozen=True)
class ClusteredProportion:
    """Pooled accuracy of repeated binary observations with an item-clustered interval.

    se: cluster-robust (CR1) standard error of the pooled mean, as statsmodels OLS y ~ 1 with
    cov_type="cluster" (small-sample factor G/(G-1) * (N-1)/(N-K), K = 1).
    design_effect: se^2 over the independent-observations variance p(1-p)/N, at least 1;
    n_effective = N / design_effect.
    The interval is the hull of Wilson's score interval on n_effective and the CR1 Wald interval
    p ± z * se clipped to [0, 1]: inside [0, 1], never narrower than the item-clustered Wald
    interval, and not degenerate at p = 0 or 1 (where Wald has se = 0).
    """

    estimate: float
    low: float
    high: float
    se: float
    design_effect: float
    n_effective: float
    n_items: int
    n_observations: int
    method: str = CLUSTERED_METHOD


def cluster_se(values: ArrayLike, clusters: ArrayLike) -> float:
    """CR1 cluster-robust standard error of mean(values) with the given cluster labels.

    Equals statsmodels OLS(values, ones).fit(cov_type="cluster") bse (its default correction
    G/(G-1) * (N-1)/(N-K), K = 1). Needs >= 2 clusters (ValueError otherwise).
    """
    y = finite_sample(values, "values")
    groups = pd.Series(np.asarray(clusters)).factorize()[0]
    if groups.size != y.size:
        raise ValueError(f"values and clusters differ in length: {y.size} and {groups.size}")
    n_clusters = int(groups.max()) + 1
    if n_clusters < 2:
        raise ValueError("a clustered standard error needs at least 2 clusters")
    residual_sums = np.bincount(groups, weights=y - y.mean())
    factor = n_clusters / (n_clusters - 1)  # (N-1)/(N-K) = 1 for K = 1
    return math.sqrt(factor * float(np.sum(residual_sums**2))) / y.size


def wilson_interval(p: float, n: float, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a proportion p observed on a (possibly fractional) n."""
    z = float(stats.norm.isf((1 - check_confidence(confidence)) / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if p == 0 else clip_unit(centre - half)
    high = 1.0 if p == 1 else clip_unit(centre + half)
    return low, high


def clustered_proportion(
    correct: ArrayLike, items: ArrayLike, confidence: float = 0.95
) -> ClusteredProportion:
    """Pooled accuracy over repeated answers with an item-clustered interval (see the class).

    correct: 0/1 per observation (shape [N]); items: the item label of each observation.
    When p is 0 or 1 the design effect is undefined and the conservative N / n_effective =
    largest number of observations of one item is used.
    """
    y = finite_sample(np.asarray(correct, dtype=np.float64), "correct")
    labels = pd.Series(np.asarray(items))
    codes = labels.factorize()[0]
    n_obs, n_items = y.size, int(codes.max()) + 1
    p = float(y.mean())
    if 0 < p < 1 and n_items >= 2:
        se = cluster_se(y, codes)
        design = max(1.0, se * se * n_obs / (p * (1 - p)))
    else:
        se = 0.0
        design = float(np.bincount(codes).max())
    n_eff = n_obs / design
    low, high = wilson_interval(p, n_eff, confidence)
    half = float(stats.norm.isf((1 - confidence) / 2)) * se
    low, high = min(low, clip_unit(p - half)), max(high, clip_unit(p + half))
    return ClusteredProportion(p, low, high, se, design, n_eff, n_items, n_obs)


@dataclass(frozen=True)
class SignFlipResult:
    """Sign-flip permutation test of mean(d) = 0 on per-item mean differences d."""

    statistic: float
    pvalue: float
    exact: bool
    n_permutations: int
    n_items: int
    method: str = SIGN_FLIP_METHOD


def sign_flip_test(
    differences: ArrayLike,
    alternative: str = "two-sided",
    max_exact_items: int = 20,
    n_resamples: int = 100_000,
    seed: int = 0,
) -> SignFlipResult:
    """Exact (all 2^n sign vectors) or seeded Monte Carlo sign-flip test of sum(d) = 0.

    differences: one value per item (e.g. mean correctness of arm a minus arm b over the item's
    repeats). Items with difference 0 cannot change the statistic and are left out of the
    enumeration. Exact when at most `max_exact_items` nonzero items, else Monte Carlo with
    p = (1 + count) / (1 + n_resamples). Two-sided p = 2 * min(one-sided p), capped at 1 (as
    scipy.stats.permutation_test). With one 0/1 answer per item this equals McNemar's exact
    test; with every difference equal and nonzero over n items, two-sided p = 2 / 2^n.
    """
    d = finite_sample(differences, "differences")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    check_count(max_exact_items, "max_exact_items")
    nonzero = d[d != 0]
    statistic = float(d.mean())
    if nonzero.size == 0:
        return SignFlipResult(statistic, 1.0, True, 1, d.size)
    observed = float(nonzero.sum())
    tol = _RELATIVE_TIE * float(np.abs(nonzero).max())  # flips within this of observed are ties
    exact = nonzero.size <= max_exact_items
    if exact:
        sums = _all_flip_sums(np.abs(nonzero))
        greater = np.count_nonzero(sums >= observed - tol) / sums.size
        less = np.count_nonzero(sums <= observed + tol) / sums.size
    else:
        if check_count(n_resamples, "n_resamples") < 1:
            raise ValueError("n_resamples must be >= 1")
        sums = _random_flip_sums(np.abs(nonzero), n_resamples, check_count(seed, "seed"))
        greater = (1 + np.count_nonzero(sums >= observed - tol)) / (n_resamples + 1)
        less = (1 + np.count_nonzero(sums <= observed + tol)) / (n_resamples + 1)
    pvalue = {"greater": greater, "less": less, "two-sided": min(1.0, 2 * min(greater, less))}
    count = 2**nonzero.size if exact else n_resamples
    return SignFlipResult(statistic, float(pvalue[alternative]), exact, count, d.size)


def _all_flip_sums(magnitudes: NDArray[np.float64]) -> NDArray[np.float64]:
    """sum(s * magnitudes) for every sign vector s in {-1, 1}^n (shape [2^n]), in batches."""
    n = magnitudes.size
    bits = np.arange(n)
    parts = []
    for start in range(0, 2**n, _BATCH_ROWS):
        rows = np.arange(start, min(start + _BATCH_ROWS, 2**n))[:, None]
        signs = ((rows >> bits) & 1) * 2 - 1
        parts.append(signs @ magnitudes)
    return np.concatenate(parts)


def _random_flip_sums(
    magnitudes: NDArray[np.float64], n_resamples: int, seed: int
) -> NDArray[np.float64]:
    """sum(s * magnitudes) for `n_resamples` seeded random sign vectors, in batches."""
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, n_resamples, _BATCH_ROWS):
        size = (min(_BATCH_ROWS, n_resamples - start), magnitudes.size)
        parts.append(rng.choice((-1.0, 1.0), size=size) @ magnitudes)
    return np.concatenate(parts)
