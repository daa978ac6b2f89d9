"""Percentile bootstrap of any statistic of jointly resampled rows (e.g. AUROC over queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crma_eval.stats._validate import check_confidence, check_count

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class ResampleCI:
    """Percentile interval; `used` resamples had a defined statistic, `skipped` did not (e.g. a
    class missing from the resample), n_resamples = used + skipped."""

    low: float
    high: float
    used: int
    n_resamples: int
    seed: int

    @property
    def skipped(self) -> int:
        """Resamples left out because the statistic was undefined (NaN) on them."""
        return self.n_resamples - self.used


def _draws(
    n: int, clusters: np.ndarray | None, n_resamples: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Row indices of each resample: rows drawn with replacement, or whole clusters (every row
    of each drawn cluster) when `clusters` labels the rows."""
    if clusters is None:
        return list(rng.integers(0, n, size=(n_resamples, n)))
    codes = pd.Series(np.asarray(clusters)).factorize()[0]
    if codes.size != n:
        raise ValueError(f"clusters must label every row: {codes.size} labels for {n} rows")
    members = pd.Series(np.arange(n)).groupby(codes).apply(np.asarray).tolist()
    picks = rng.integers(0, len(members), size=(n_resamples, len(members)))
    return [np.concatenate([members[j] for j in row]) for row in picks]


def rows_bootstrap_ci(
    stat: Callable[..., float],
    arrays: Sequence[np.ndarray],
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    clusters: np.ndarray | None = None,
) -> ResampleCI:
    """Percentile bootstrap CI of stat(*arrays), resampling the rows of all arrays jointly.

    Row indices are drawn with replacement from numpy's default_rng(seed) (Efron & Tibshirani
    1993, percentile method). With `clusters` (one label per row, e.g. the query when several
    checkpoints route it) whole clusters are resampled (the cluster bootstrap, Davison & Hinkley
    1997, §3.8), so the interval is on the number of clusters. Resamples on which `stat` is NaN
    (e.g. AUROC of a resample with one class only) are skipped and counted (`skipped`); with
    none left the interval is (NaN, NaN).
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
        [stat(*(a[idx] for a in arrays)) for idx in _draws(n, clusters, n_resamples, rng)],
        dtype=float,
    )
    values = values[~np.isnan(values)]
    if values.size == 0:
        return ResampleCI(float("nan"), float("nan"), 0, n_resamples, seed)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return ResampleCI(float(low), float(high), int(values.size), n_resamples, seed)
