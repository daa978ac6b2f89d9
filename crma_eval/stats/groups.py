"""Per-condition summaries across seeds and Welch's unequal-variance t-test between conditions."""

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
