"""Percentile bootstrap of any statistic of jointly resampled rows (e.g. AUROC over queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from crma_eval.stats._validate import check_confidence, check_count

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class ResampleCI:
    """Percentile interval; `used` resamples had a defined statistic (others lacked a class)."""

    low: float
    high: float
    used: int
    n_resamples: int
    seed: int


def rows_bootstrap_ci(
    stat: Callable[..., float],
    arrays: Sequence[np.ndarray],
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ResampleCI:
    """Percentile bootstrap CI of stat(*arrays), resampling the rows of all arrays jointly.

    Row indices are drawn with replacement from numpy's default_rng(seed) (Efron & Tibshirani
    1993, percentile method). Resamples on which `stat` is NaN (e.g. AUROC of a resample with one
    class only) are skipped; with none left the interval is (NaN, NaN).
    Raises ValueError for arrays of unequal length or fewer than two rows.
    """
    level = check_confidence(confidence)
    n_resamples, seed = check_count(n_resamples, "n_resamples"), check_count(seed, "seed")
    sizes = {len(a) for a in arrays}
    if len(sizes) != 1 or min(sizes) < 2:
        raise ValueError(f"arrays must share one length >= 2, got lengths {sorted(sizes)}")
    n = sizes.pop()
    rng = np.random.default_rng(seed)
    values = np.array(
        [stat(*(a[idx] for a in arrays)) for idx in rng.integers(0, n, size=(n_resamples, n))],
        dtype=float,
    )
    values = values[~np.isnan(values)]
    if values.size == 0:
        return ResampleCI(float("nan"), float("nan"), 0, n_resamples, seed)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return ResampleCI(float(low), float(high), int(values.size), n_resamples, seed)
