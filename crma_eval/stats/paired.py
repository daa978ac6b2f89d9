"""Paired binary comparisons (with/without CRMA, before/after): McNemar and a difference CI.

Both work from the discordant counts, so 1e6-item arms cost a few vectorised numpy reductions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from crma_eval.stats._validate import (
    check_choice,
    check_confidence,
    check_count,
    clip_unit,
    paired_binary,
)
from crma_eval.stats.proportions import proportion_ci

MCNEMAR_METHODS: tuple[str, ...] = ("exact", "midp", "chi2")


@dataclass(frozen=True)
class McNemarResult:
    """McNemar test on b (x right, y wrong) and c (x wrong, y right); reports print b and c."""

    statistic: float
    pvalue: float
    b: int
    c: int
    method: str


class PairedDifference(NamedTuple):
    """Accuracy difference acc(x) - acc(y) of two paired arms with its confidence limits."""

    estimate: float
    low: float
    high: float


def mcnemar(b: int, c: int, method: str = "exact") -> McNemarResult:
    """McNemar's test on the discordant pair counts b and c.

    exact: two-sided binomial test of b ~ Bin(b + c, 1/2), statistic = min(b, c) (as statsmodels).
    midp: mid-p version, 2 * P(X <= min) - P(X = min) (Fagerland et al. 2013); equals 1 if b = c.
    chi2: chi-square with continuity correction, statistic = (|b - c| - 1)^2 / (b + c), 1 df;
    as R's mcnemar.test the correction is applied only when |b - c| >= 1, so b = c gives
    statistic 0 and pvalue 1. With b = c = 0 there is no evidence either way: pvalue 1.0.
    """
    method = check_choice(method, "McNemar method", MCNEMAR_METHODS)
    b, c = check_count(b, "b"), check_count(c, "c")
    n = b + c
    if method == "chi2":
        if b == c:
            return McNemarResult(0.0, 1.0, b, c, method)
        statistic = (abs(b - c) - 1) ** 2 / n
        return McNemarResult(statistic, float(stats.chi2.sf(statistic, 1)), b, c, method)
    low = min(b, c)
    tail = 2.0 * float(stats.binom.cdf(low, n, 0.5))
    if method == "midp":
        tail -= float(stats.binom.pmf(low, n, 0.5))
    return McNemarResult(float(low), min(tail, 1.0), b, c, method)


def _discordant(x: ArrayLike, y: ArrayLike) -> tuple[int, int, int, int]:
    """Counts (both right, x only, y only, both wrong) of two paired correctness arrays."""
    xa, ya = paired_binary(x, y)
    both = int(np.count_nonzero(xa & ya))
    x_only = int(np.count_nonzero(xa)) - both
    y_only = int(np.count_nonzero(ya)) - both
    return both, x_only, y_only, xa.size - both - x_only - y_only


def mcnemar_from_pairs(x: ArrayLike, y: ArrayLike, method: str = "exact") -> McNemarResult:
    """McNemar on paired correctness arrays: b = x right & y wrong, c = x wrong & y right."""
    _, b, c, _ = _discordant(x, y)
    return mcnemar(b, c, method)


def _newcombe_phi(a: int, b: int, c: int, d: int) -> float:
    """Newcombe's corrected phi of the paired table (0 when a margin is empty)."""
    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        return 0.0
    cross: float = a * d - b * c
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0
    return cross / math.sqrt(margins)


def paired_difference_ci(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> PairedDifference:
    """CI for acc(x) - acc(y) of two paired binary arms: Newcombe (1998) method 10.

    Square-and-add of the two Wilson score intervals with Newcombe's corrected phi for the
    pairing (as in Altman et al., *Statistics with Confidence*, and Fagerland et al. 2014).
    """
    level = check_confidence(confidence)
    a, b, c, d = _discordant(x, y)
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = proportion_ci(a + b, n, level, "wilson")
    l2, u2 = proportion_ci(a + c, n, level, "wilson")
    phi = _newcombe_phi(a, b, c, d)
    down = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    up = (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2
    estimate = (b - c) / n
    low = clip_unit(estimate - math.sqrt(max(down, 0.0)), -1.0, 1.0)
    high = clip_unit(estimate + math.sqrt(max(up, 0.0)), -1.0, 1.0)
    return PairedDifference(estimate, low, high)
