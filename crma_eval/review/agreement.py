"""Inter-rater agreement on binary labels: majority, Cohen's/Fleiss' kappa, Krippendorff's alpha.

Matrices are raters × items with 1 (correct), 0 (incorrect) or NaN (not labelled). Cohen's kappa
comes from scikit-learn; Fleiss' kappa uses every item with two labels or more (Gwet's handling
of missing labels; statsmodels' fleiss_kappa when no label is missing), with the number of items
used and of complete items beside it; alpha from the `krippendorff` package (nominal level,
missing labels allowed). Intervals: percentile bootstrap
over items (numpy Generator, fixed seed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

BOOTSTRAP = 1000


def majority(matrix: np.ndarray) -> np.ndarray:
    """Per item the raters' majority label 1/0, -1 on a tie, -2 when nobody labelled it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(matrix, axis=0)
    out = np.where(mean > 0.5, 1, np.where(mean < 0.5, 0, -1))
    return np.where(np.isnan(mean), -2, out)


def cohen(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two raters over items both labelled (NaN when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    both = ~(np.isnan(a) | np.isnan(b))
    if both.sum() < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohen_kappa_score(a[both].astype(int), b[both].astype(int)))


def fleiss(matrix: np.ndarray) -> float:
    """Fleiss' kappa over every item with at least two labels (NaN when undefined).

    Missing labels handled as Gwet (2014, *Handbook of Inter-Rater Reliability*, §5; R
    irrCAC::fleiss.kappa.raw): observed agreement p_a = mean over items with r_i >= 2 labels of
    sum_k r_ik (r_ik − 1) / (r_i (r_i − 1)); chance p_e = sum_k pi_k², pi_k = mean over labelled
    items of r_ik / r_i. With every item labelled by every rater this is statsmodels'
    fleiss_kappa (Fleiss 1971). Needs two items with two labels and both labels used.
    """
    labelled = ~np.isnan(matrix)
    ones = np.nansum(matrix, axis=0)
    per_item = labelled.sum(axis=0)
    counts = np.stack([per_item - ones, ones], axis=1)  # [items, 2]: r_i0, r_i1
    paired = per_item >= 2
    if paired.sum() < 2:
        return float("nan")
    r = per_item[paired]
    agree = (counts[paired] * (counts[paired] - 1)).sum(axis=1) / (r * (r - 1))
    rated = per_item >= 1
    pi = (counts[rated] / per_item[rated, None]).mean(axis=0)
    chance = float((pi**2).sum())
    if chance >= 1:
        return float("nan")
    return float((agree.mean() - chance) / (1 - chance))


def fleiss_items(matrix: np.ndarray) -> dict[str, int]:
    """Items Fleiss' kappa uses (two labels or more) and items labelled by every rater."""
    labelled = (~np.isnan(matrix)).sum(axis=0)
    return {
        "n_items": int((labelled >= 2).sum()),
        "n_complete": int((labelled == len(matrix)).sum()),
    }


def alpha(matrix: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) of the `krippendorff` package (NaN when undefined)."""
    import krippendorff

    values = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]
    if values.shape[1] == 0 or len(np.unique(values[~np.isnan(values)])) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=values, level_of_measurement="nominal"))


def point_kappas(matrix: np.ndarray) -> dict[str, Any]:
    """{"cohen": {"1-2": kappa, ...}, "fleiss": kappa}; {} with fewer than two raters."""
    if matrix.shape[0] < 2:
        return {}
    pairs = {
        f"{a + 1}-{b + 1}": cohen(matrix[a], matrix[b])
        for a in range(len(matrix))
        for b in range(a + 1, len(matrix))
    }
    return {"cohen": pairs, "fleiss": fleiss(matrix)}


def bootstrap(
    stat: Callable[[np.ndarray], float],
    matrix: np.ndarray,
    confidence: float,
    seed: int,
    resamples: int = BOOTSTRAP,
) -> dict[str, Any]:
    """{estimate, ci_low, ci_high, method, undefined, resamples}: `stat` and its percentile
    bootstrap over
    items. A resample where `stat` is undefined (NaN, e.g. Cohen's kappa of one label only, where
    scikit-learn warns UndefinedMetricWarning) is dropped and counted; the resamples' warnings
    are never printed: the method says "k of N resamples undefined" once."""
    rng = np.random.default_rng(seed)
    n = matrix.shape[1]
    draws = np.array([_quiet(stat, matrix[:, rng.integers(0, n, n)]) for _ in range(resamples)])
    draws = draws[~np.isnan(draws)]
    undefined = resamples - len(draws)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(draws, [tail, 100 - tail]) if len(draws) else (float("nan"),) * 2
    method = f"percentile bootstrap over items, {resamples} resamples, seed {seed}"
    return {
        "estimate": stat(matrix),
        "ci_low": float(low),
        "ci_high": float(high),
        "method": method
        + (f"; {undefined} of {resamples} resamples undefined" if undefined else ""),
        "undefined": undefined,
        "resamples": resamples,
    }


def _quiet(stat: Callable[[np.ndarray], float], sample: np.ndarray) -> float:
    """stat(sample) with its warnings held back (an undefined one comes back as NaN and is
    counted by `bootstrap`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stat(sample))


def _pair(a: int, b: int) -> Callable[[np.ndarray], float]:
    """Cohen's kappa of raters a and b, as a statistic of the matrix."""
    return lambda m: cohen(m[a], m[b])


def agreement_summary(
    matrix: np.ndarray, confidence: float, seed: int, resamples: int = BOOTSTRAP
) -> dict[str, Any]:
    """Krippendorff's alpha, Cohen's kappa per rater pair and Fleiss' kappa, with intervals."""
    out: dict[str, Any] = {
        "krippendorff_alpha": bootstrap(alpha, matrix, confidence, seed, resamples)
    }
    if matrix.shape[0] >= 2:
        out["cohen"] = {
            f"{a + 1}-{b + 1}": bootstrap(_pair(a, b), matrix, confidence, seed, resamples)
            for a in range(len(matrix))
            for b in range(a + 1, len(matrix))
        }
        out["fleiss"] = bootstrap(fleiss, matrix, confidence, seed, resamples) | fleiss_items(
            matrix
        )
    return out
