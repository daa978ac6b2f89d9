"""Paired difference of repeated measures (items answered under several seeds or checkpoints).

One estimand for test and interval: the difference of the pooled (observation-mean) accuracies,
mean(d) over all N paired answers, as QA's pooled accuracy. The unit of analysis is the item:

- test: exact sign-flip permutation test on per-item totals of d (stats.signflip; their sum is
  N * mean(d), so the test is of the same mean), b / c counting items with a positive / negative
  total;
- interval: mean(d) ± t(G - 1) * CR1 item-clustered SE, the small-sample reference of
  statsmodels OLS(d, 1).fit(cov_type="cluster", use_t=True) (df = items − 1; Cameron & Miller
  2015, "A Practitioner's Guide to Cluster-Robust Inference", §VI), so that with few items the
  interval does not exclude 0 where the exact test finds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from crma_eval.stats._validate import check_confidence, finite_sample
from crma_eval.stats.clustered import cluster_se
from crma_eval.stats.signflip import sign_flip_test

REPEATED_INTERVAL = "cr1-clustered t (items - 1 df)"


@dataclass(frozen=True)
class RepeatedDifference:
    """mean(d) with its clustered t interval and the item-level sign-flip test of mean(d) = 0."""

    estimate: float
    low: float
    high: float
    se: float
    df: int
    pvalue: float
    exact: bool
    b: int
    c: int
    n_items: int
    n_observations: int


def repeated_difference(
    differences: ArrayLike, items: ArrayLike, confidence: float = 0.95, seed: int = 0
) -> RepeatedDifference:
    """Paired difference of repeated answers (see the module).

    differences: d per paired answer (shape [N], e.g. correct_a − correct_b); items: the item label
    of each answer (shape [N]). The interval is clipped to [-1, 1] (differences of 0/1 answers).
    With one item the interval is NaN (no df). Raises ValueError for
    unequal lengths, empty or non-finite input, or a confidence outside (0, 1).
    """
    d = finite_sample(differences, "differences")
    level = check_confidence(confidence)
    codes = pd.Series(np.asarray(items)).factorize()[0]
    if codes.size != d.size:
        raise ValueError(f"differences and items differ in length: {d.size} and {codes.size}")
    totals = np.bincount(codes, weights=d)
    test = sign_flip_test(totals, seed=seed)
    estimate = float(d.mean())
    n_items = int(totals.size)
    if n_items >= 2:
        se = cluster_se(d, codes)
        half = float(stats.t.isf((1 - level) / 2, n_items - 1)) * se
        low, high = max(-1.0, estimate - half), min(1.0, estimate + half)
    else:
        se, low, high = math.nan, math.nan, math.nan
    return RepeatedDifference(
        estimate=estimate,
        low=low,
        high=high,
        se=se,
        df=n_items - 1,
        pvalue=test.pvalue,
        exact=test.exact,
        b=int(np.count_nonzero(totals > 0)),
        c=int(np.count_nonzero(totals < 0)),
        n_items=n_items,
        n_observations=int(d.size),
    )
