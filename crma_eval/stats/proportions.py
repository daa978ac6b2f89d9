"""Confidence intervals for one binomial proportion (k successes of n), wrapping statsmodels.

Wilson score is the default (docs/results.md); the method label is meant to be printed beside every
interval so a reader always knows which interval they are looking at.
"""

from __future__ import annotations

from statsmodels.stats.proportion import proportion_confint

from crma_eval.stats._validate import check_choice, check_confidence, check_count, clip_unit

PROPORTION_METHODS: tuple[str, ...] = ("wilson", "clopper_pearson", "jeffreys", "agresti_coull")
# Recognised only to name the method behind a printed interval (crma_eval.claims); never a report
# default: the Wald interval undercovers badly near 0 and 1 and collapses to a point there.
RECOGNISED_ONLY_METHODS: tuple[str, ...] = ("wald",)
_ALL_METHODS = PROPORTION_METHODS + RECOGNISED_ONLY_METHODS

_STATSMODELS_NAME = {
    "wilson": "wilson",
    "clopper_pearson": "beta",
    "jeffreys": "jeffreys",
    "agresti_coull": "agresti_coull",
    "wald": "normal",
}

_LABEL = {
    "wilson": "Wilson score",
    "clopper_pearson": "Clopper–Pearson exact",
    "jeffreys": "Jeffreys",
    "agresti_coull": "Agresti–Coull",
    "wald": "Wald",
}


def method_label(method: str) -> str:
    """Human-readable name of a proportion CI method, for printing beside the interval."""
    return _LABEL[check_choice(method, "proportion CI method", _ALL_METHODS)]


def proportion_ci(
    k: int, n: int, confidence: float = 0.95, method: str = "wilson"
) -> tuple[float, float]:
    """Two-sided CI for the proportion k/n, clipped to [0, 1].

    With k = 0 the lower limit is exactly 0.0 and with k = n the upper limit is exactly 1.0 for
    every method (for Jeffreys this is the Brown–Cai–DasGupta boundary modification). `method`
    is one of PROPORTION_METHODS or "wald" (statsmodels "normal"; RECOGNISED_ONLY_METHODS).
    """
    method = check_choice(method, "proportion CI method", _ALL_METHODS)
    k, n = check_count(k, "k"), check_count(n, "n")
    level = check_confidence(confidence)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    low, high = proportion_confint(k, n, alpha=1.0 - level, method=_STATSMODELS_NAME[method])
    low = 0.0 if k == 0 else clip_unit(float(low))
    high = 1.0 if k == n else clip_unit(float(high))
    return low, high
