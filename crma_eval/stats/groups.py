"""Per-condition summaries across seeds; Welch's t between conditions, paired t within seeds."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from crma_eval.stats._validate import finite_sample


@dataclass(frozen=True)
class GroupSummary:
    """Mean, sample std (ddof=1; NaN when n = 1) and range of one group of per-seed values."""

    n: int
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class WelchResult:
    """Welch's t-test of mean(a) - mean(b); df from the Welch–Satterthwaite equation."""

    statistic: float
    pvalue: float
    df: float


def group_summary(values: ArrayLike) -> GroupSummary:
    """Summarise one group (e.g. a condition's drift per seed)."""
    arr = finite_sample(values, "values")
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
    return GroupSummary(arr.size, float(np.mean(arr)), std, float(arr.min()), float(arr.max()))


def ranges_disjoint(a: ArrayLike, b: ArrayLike) -> bool:
    """True if the closed ranges [min(a), max(a)] and [min(b), max(b)] do not overlap."""
    xa, xb = finite_sample(a, "a"), finite_sample(b, "b")
    return bool(xa.max() < xb.min() or xb.max() < xa.min())


def welch_t(a: ArrayLike, b: ArrayLike) -> WelchResult:
    """Welch's unequal-variance t-test (scipy `ttest_ind(equal_var=False)`), two-sided.

    Needs n >= 2 per group (ValueError otherwise). If both groups have zero variance the test is
    undefined and statistic, pvalue and df are all NaN (compare ranges instead); if only one has,
    the test is the one-sample t-test of the other against that constant, as scipy computes it.
    """
    xa, xb = finite_sample(a, "a", min_size=2), finite_sample(b, "b", min_size=2)
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return WelchResult(math.nan, math.nan, math.nan)
    with warnings.catch_warnings():
        # scipy warns about precision loss for a constant group; its result is still exact enough.
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        res = stats.ttest_ind(xa, xb, equal_var=False)
    return WelchResult(float(res.statistic), float(res.pvalue), float(res.df))


@dataclass(frozen=True)
class PairedTResult:
    """Paired t-test of mean(d) = 0 with its own t-interval (df = n - 1)."""

    n: int
    mean: float
    low: float
    high: float
    statistic: float
    pvalue: float
    df: float


def essentially_constant(values: ArrayLike) -> bool:
    """R's `t.test` rule: fewer than 2 values, all values equal, or a standard error below
    10 machine epsilons of |mean| ("data are essentially constant"); a t statistic is then
    float noise, so callers use an exact test or report the value as constant."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2 or np.ptp(finite_sample(arr, "values")) == 0:
        return True
    stderr = float(np.std(arr, ddof=1)) / np.sqrt(arr.size)
    return bool(stderr < 10 * np.finfo(float).eps * abs(float(np.mean(arr))))


def paired_t(a: ArrayLike, b: ArrayLike, confidence: float = 0.95) -> PairedTResult:
    """Paired t-test of mean(a - b) = 0 (scipy `ttest_rel`, two-sided) and its t-interval.

    a, b: matched values (e.g. per-seed drift of two conditions, seeds in the same order).
    With n < 2 or essentially constant differences the test is undefined: statistic, p and the
    interval are NaN (use the exact sign-flip test). ValueError for unequal lengths.
    """
    xa, xb = finite_sample(a, "a"), finite_sample(b, "b")
    if xa.size != xb.size:
        raise ValueError(f"a and b must be paired (same length), got {xa.size} and {xb.size}")
    d = xa - xb
    mean = float(d.mean())
    if d.size < 2 or essentially_constant(d):
        return PairedTResult(d.size, mean, math.nan, math.nan, math.nan, math.nan, d.size - 1)
    res = stats.ttest_rel(xa, xb)
    ci = res.confidence_interval(confidence)
    return PairedTResult(
        d.size, mean, float(ci.low), float(ci.high), float(res.statistic), float(res.pvalue),
        float(res.df),
    )  # fmt: skip
