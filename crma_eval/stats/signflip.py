"""Sign-flip permutation test of a paired mean: exact wherever the exact distribution is cheap.

Under H0 (the paired differences are symmetric about 0) every sign vector s in {-1, 1}^n is
equally likely, so the null distribution of sum(s * |d|) decides the p-value (Fisher 1935; Good,
*Permutation Tests*, 2005, §3.1). Three ways to get it, in order of preference:

- lattice: when the |d| are integer multiples of one unit (0/1 answers, per-item totals or means
  of a few repeats, equal differences) the distribution of sum(s * |d|) is the convolution of one
  scaled Binomial(c, 1/2) per distinct magnitude: exact to rounding for any number of items
  (p = 2 / 2^41 = 9.1e-13 for 41 equal differences, not a Monte Carlo floor);
- enumeration of all 2^n sign vectors for at most `max_exact_items` items of any values;
- otherwise seeded Monte Carlo, symmetrised (each random sign vector is used with its negation),
  so swapping the two sides (d -> -d) gives the same two-sided p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from crma_eval.stats._validate import check_choice, check_count, finite_sample

ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")
SIGN_FLIP_METHOD = "sign-flip-permutation"
_BATCH_ROWS = 1 << 16
# Sign flips whose sum is within this fraction of the largest |difference| count as ties.
_RELATIVE_TIE = 1e-9
# Lattice: magnitudes / smallest magnitude must be fractions with denominators up to this...
_MAX_DENOMINATOR = 1000
# ... matching within this relative error, and the integer total (the support) up to this size.
_LATTICE_TOLERANCE = 1e-8
_MAX_LATTICE_TOTAL = 2_000_000


@dataclass(frozen=True)
class SignFlipResult:
    """Sign-flip permutation test of mean(d) = 0 on per-item differences d.

    exact: the p-value is the exact permutation p (lattice or enumeration); n_permutations is
    2^(nonzero items) when exact, else the number of Monte Carlo sign vectors.
    """

    statistic: float
    pvalue: float
    exact: bool
    n_permutations: int
    n_items: int
    method: str = SIGN_FLIP_METHOD


def lattice(magnitudes: NDArray[np.float64]) -> NDArray[np.int64] | None:
    """Integers proportional to the positive `magnitudes` (shape [n]), or None if there are
    none with denominators up to 1000 and a total up to 2e6 (then the lattice method is off)."""
    unit = float(magnitudes.min())
    ratios = magnitudes / unit
    distinct = np.unique(np.round(ratios, 9))
    denominator = 1
    for value in distinct:
        denominator = math.lcm(
            denominator, Fraction(float(value)).limit_denominator(_MAX_DENOMINATOR).denominator
        )
        if denominator > _MAX_DENOMINATOR:
            return None
    scaled = ratios * denominator
    ints = np.round(scaled)
    if np.any(np.abs(scaled - ints) > _LATTICE_TOLERANCE * np.maximum(1.0, scaled)):
        return None
    if ints.sum() > _MAX_LATTICE_TOTAL:
        return None
    return ints.astype(np.int64)


def lattice_distribution(weights: NDArray[np.int64]) -> NDArray[np.float64]:
    """P(W = w) for w = 0..sum(weights), W = sum of the weights of a uniformly random subset.

    One Binomial(c, 1/2) pmf (scipy, accurate in the far tails) spaced by each distinct weight a
    (c items of weight a), convolved directly (np.convolve, no FFT rounding in the tails).
    """
    dist = np.ones(1)
    values, counts = np.unique(weights, return_counts=True)
    for a, c in zip(values.tolist(), counts.tolist(), strict=True):
        kernel = np.zeros(a * c + 1)
        kernel[::a] = stats.binom.pmf(np.arange(c + 1), c, 0.5)
        dist = np.convolve(dist, kernel)
    return dist


def _lattice_tails(weights: NDArray[np.int64], positive: NDArray[np.bool_]) -> tuple[float, float]:
    """(P(S >= observed), P(S <= observed)) exactly, S = sum of randomly signed weights."""
    dist = lattice_distribution(weights)
    observed = int(weights[positive].sum())  # S = 2 W - total, so S >= s iff W >= w
    return float(dist[observed:].sum()), float(dist[: observed + 1].sum())


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


def sign_flip_test(
    differences: ArrayLike,
    alternative: str = "two-sided",
    max_exact_items: int = 20,
    n_resamples: int = 100_000,
    seed: int = 0,
) -> SignFlipResult:
    """Sign-flip permutation test of sum(d) = 0 (see the module for the three methods).

    differences: one value per unit (e.g. the per-item total of arm a minus arm b over the item's
    repeats). Zero differences cannot change the statistic and are left out. Exact (lattice, or
    all 2^n sign vectors when at most `max_exact_items` nonzero items) wherever possible, else
    seeded Monte Carlo with p = (1 + count) / (1 + 2 * n_resamples) over the resamples and their
    negations. Two-sided p = 2 * min(one-sided p), capped at 1 (as scipy.stats.permutation_test);
    the null distribution is symmetric, so d and -d give the same two-sided p. With one 0/1
    answer per item this equals McNemar's exact test; with n equal nonzero differences the
    two-sided p is 2 / 2^n. Raises ValueError for empty or non-finite input or a bad option.
    """
    d = finite_sample(differences, "differences")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    check_count(max_exact_items, "max_exact_items")
    nonzero = d[d != 0]
    statistic = float(d.mean())
    if nonzero.size == 0:
        return SignFlipResult(statistic, 1.0, True, 1, d.size)
    magnitudes = np.abs(nonzero)
    weights = lattice(magnitudes)
    exact = weights is not None or nonzero.size <= max_exact_items
    if weights is not None:
        greater, less = _lattice_tails(weights, nonzero > 0)
    else:
        observed = float(nonzero.sum())
        tol = _RELATIVE_TIE * float(magnitudes.max())  # flips within this of observed are ties
        if exact:
            sums = _all_flip_sums(magnitudes)
            greater = np.count_nonzero(sums >= observed - tol) / sums.size
            less = np.count_nonzero(sums <= observed + tol) / sums.size
        else:
            if check_count(n_resamples, "n_resamples") < 1:
                raise ValueError("n_resamples must be >= 1")
            half = _random_flip_sums(magnitudes, n_resamples, check_count(seed, "seed"))
            sums = np.concatenate([half, -half])
            greater = (1 + np.count_nonzero(sums >= observed - tol)) / (sums.size + 1)
            less = (1 + np.count_nonzero(sums <= observed + tol)) / (sums.size + 1)
    pvalue = {"greater": greater, "less": less, "two-sided": min(1.0, 2 * min(greater, less))}
    count = 2**nonzero.size if exact else 2 * n_resamples
    return SignFlipResult(statistic, float(pvalue[alternative]), exact, count, d.size)
