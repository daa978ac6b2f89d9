"""Paired percentile bootstrap for a statistic of two matched samples (e.g. per-item scores)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from crma_eval.stats._validate import check_confidence, check_count, finite_sample


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate on the original pairs and the bootstrap interval; `method` names it."""

    estimate: float
    low: float
    high: float
    method: str


def mean_difference(
    x: NDArray[np.float64], y: NDArray[np.float64], axis: int = -1
) -> NDArray[np.float64] | float:
    """Mean of the paired differences x - y (vectorised along `axis` for scipy's bootstrap)."""
    return np.mean(np.asarray(x) - np.asarray(y), axis=axis)


def paired_bootstrap_ci(
    x: ArrayLike,
    y: ArrayLike,
    stat: Callable[..., object] = mean_difference,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap CI of stat(x, y), resampling pair indices jointly (scipy, paired=True).

    `stat(x, y)` may take an `axis` keyword to be evaluated on all resamples at once (fast);
    otherwise it is called once per resample.
    """
    xa, ya = finite_sample(x, "x", min_size=2), finite_sample(y, "y", min_size=2)
    if xa.size != ya.size:
        raise ValueError(f"x and y must be paired (same length), got {xa.size} and {ya.size}")
    level = check_confidence(confidence)
    if check_count(n_resamples, "n_resamples") < 1:
        raise ValueError("n_resamples must be >= 1")
    res = stats.bootstrap(
        (xa, ya),
        stat,
        paired=True,
        confidence_level=level,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(check_count(seed, "seed")),
    )
    interval = res.confidence_interval
    return BootstrapResult(
        float(cast(float, stat(xa, ya))), float(interval.low), float(interval.high), "percentile"
    )
