"""Graded and unbounded benchmark metrics: one method gives each interval and its p-value.

Graded metrics bounded in [0, 1] (TruthfulQA mc2, f1, averaged acc): paired t-test with its own
t-interval (scipy `ttest_rel(...).confidence_interval`), clipped to the metric's range; when every
document moves by the same amount (zero variance) the t-test is undefined and the exact sign-flip
test gives p (2 / 2^n for n equal nonzero differences) with a zero-width interval.
Unbounded metrics (perplexity family, bits per byte) are aggregated as lm-eval aggregates them and
compared on the log scale: perplexity as a ratio exp(mean log-difference), bits per byte (already
a log2 quantity) as a difference in bits; never in percentage points.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import stats as sps

from crma_eval import InputError, sign_flip_test

# lm-eval metrics aggregated as exp(-mean loglikelihood): corpus perplexity.
PERPLEXITY_METRICS: frozenset[str] = frozenset(
    {"perplexity", "word_perplexity", "byte_perplexity", "ppl"}
)
# lm-eval metrics already on a log2 scale (bits), averaged.
BITS_METRICS: frozenset[str] = frozenset({"bits_per_byte", "bpb"})
UNBOUNDED: frozenset[str] = PERPLEXITY_METRICS | BITS_METRICS
PAIRED_T = "paired t-test with its t-interval"
ZERO_VARIANCE = "exact sign-flip test (zero-variance differences)"


def log_perplexity(values: np.ndarray, task: str, metric: str) -> np.ndarray:
    """Per-document log perplexity: -loglikelihood (lm-eval's per-document item, <= 0) or
    log(per-document perplexity >= 1). Mixed or impossible values are an InputError."""
    if np.all(values <= 0):
        return -values
    if np.all(values >= 1):
        return np.log(values)
    raise InputError(
        f"bench task {task!r}, metric {metric!r}: values are neither loglikelihoods (<= 0, "
        "lm-eval's per-document item) nor perplexities (>= 1); fix the records"
    )


def t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """t-interval of the mean (NaN for n < 2; zero width for zero variance)."""
    if values.size < 2:
        return math.nan, math.nan
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    ci = sps.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return float(ci.low), float(ci.high)


class PairedT(NamedTuple):
    """Mean paired difference with the interval and p-value of one method (named)."""

    estimate: float
    low: float
    high: float
    pvalue: float
    method: str


def paired_t(d: np.ndarray, confidence: float, seed: int) -> PairedT:
    """Mean of paired differences d (shape [n]) with interval and p from one method.

    Paired t (one-sample t on d) when d varies; exact sign-flip test (zero-width interval) when
    every difference is equal; NaN interval and p for n < 2.
    """
    estimate = float(d.mean())
    if d.size < 2:
        return PairedT(estimate, math.nan, math.nan, math.nan, PAIRED_T)
    if np.ptp(d) == 0:
        pvalue = sign_flip_test(d, seed=seed).pvalue
        return PairedT(estimate, estimate, estimate, pvalue, ZERO_VARIANCE)
    res = sps.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(confidence)
    return PairedT(estimate, float(ci.low), float(ci.high), float(res.pvalue), PAIRED_T)


def unbounded_score(
    values: np.ndarray, task: str, metric: str, confidence: float
) -> dict[str, float]:
    """Corpus score of an unbounded metric with a t-interval on its log (or bits) scale."""
    if metric in BITS_METRICS:
        low, high = t_interval(values, confidence)
        return {
            "score": float(values.mean()),
            "n": values.size,
            "ci_low": max(low, 0.0),
            "ci_high": high,
        }
    logs = log_perplexity(values, task, metric)
    low, high = t_interval(logs, confidence)
    return {
        "score": math.exp(logs.mean()),
        "n": values.size,
        "ci_low": math.exp(low),
        "ci_high": math.exp(high),
    }


def unbounded_compare(
    after: np.ndarray, base: np.ndarray, task: str, metric: str, confidence: float, seed: int
) -> dict[str, Any]:
    """Perplexity: ratio after/base = exp(mean log-difference) with its interval; bits: delta."""
    if metric in BITS_METRICS:
        t = paired_t(after - base, confidence, seed)
        return {
            "delta": t.estimate,
            "delta_ci_low": t.low,
            "delta_ci_high": t.high,
            "pvalue": t.pvalue,
            "method": f"{t.method} (bits)",
        }
    d = log_perplexity(after, task, metric) - log_perplexity(base, task, metric)
    t = paired_t(d, confidence, seed)
    return {
        "log_ratio": t.estimate,
        "ratio": math.exp(t.estimate),
        "ratio_ci_low": math.exp(t.low),
        "ratio_ci_high": math.exp(t.high),
        "pvalue": t.pvalue,
        "method": f"{t.method} on log perplexity",
    }
