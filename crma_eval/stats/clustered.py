"""Repeated measures: item-clustered accuracy intervals (the paired test is in stats.signflip).

When one item is answered several times (under several seeds or checkpoints) the answers are not
independent; the unit of analysis is the item (Miller 2024, "Adding Error Bars to Evals",
arXiv 2411.00640, section 2.2: cluster-robust standard errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from crma_eval.stats._validate import check_confidence, clip_unit, finite_sample

CLUSTERED_METHOD = "clustered-cr1"


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
