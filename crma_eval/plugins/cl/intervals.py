"""Item-level intervals of the cl plugin: a cluster bootstrap on the item, stratified by domain.

Each item is answered after every phase and under every seed: those answers are one cluster.
A resample draws, within each domain, as many items as it has, with replacement (Efron &
Tibshirani 1993; the item as the unit of analysis, Miller 2024, arXiv 2411.00640), and keeps
each drawn item's whole profile over phases, seeds and arms; every series is recomputed from
the same draws, so differences between arms are paired. Seeds are held fixed: the interval is
item-sampling uncertainty of the metric averaged over these seeds (seed-to-seed spread is the
sd). Percentile intervals.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

METHOD = "item-cluster percentile bootstrap (items resampled within domains, seeds fixed)"
CHUNK = 250


def draw_weights(domains: pd.Series, n_resamples: int, seed: int) -> np.ndarray:
    """[B, I] how often each item is drawn: multinomial within each domain (rows sum to n_d)."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_resamples, len(domains)))
    for _, index in domains.groupby(domains, sort=True).indices.items():
        n = len(index)
        weights[:, index] = rng.multinomial(n, np.full(n, 1 / n), size=n_resamples)
    return weights


def one_hot(domains: pd.Series, order: tuple[str, ...]) -> np.ndarray:
    """[I, T] 1 where item i belongs to the domain trained in phase c + 1 (0 outside the order)."""
    position = {d: i for i, d in enumerate(order)}
    out = np.zeros((len(domains), len(order)))
    for i, domain in enumerate(domains):
        if domain in position:
            out[i, position[domain]] = 1.0
    return out


def cell_means(y: np.ndarray, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[B, ..., T] weighted mean of y ([..., I], NaN = not measured) over each column's items.

    columns: [I, T] one-hot domain of each item; weights: [B, I]. NaN where no weight is on a
    measured item.
    """
    seen = ~np.isnan(y)
    filled = np.where(seen, y, 0.0)
    spread = weights[:, :, None] * columns[None]  # [B, I, T]
    num = np.einsum("...i,bic->b...c", filled, spread)
    den = np.einsum("...i,bic->b...c", seen.astype(float), spread)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def chunks(weights: np.ndarray) -> Iterator[np.ndarray]:
    """The resample weights in blocks of CHUNK (bounded memory)."""
    for start in range(0, len(weights), CHUNK):
        yield weights[start : start + CHUNK]


def percentile(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, NaN replicates left out (all NaN: NaN)."""
    tail = 100 * (1 - confidence) / 2  # confidence in (0, 1): validated by AnalyzeOptions' sources
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values)
        low = np.full(values.shape[1:], np.nan)
        high = np.full(values.shape[1:], np.nan)
        usable = finite.any(axis=0)
        if usable.any():
            kept = np.where(finite, values, np.nan)[:, usable]
            low[usable], high[usable] = np.nanpercentile(kept, [tail, 100 - tail], axis=0)
    return low, high
