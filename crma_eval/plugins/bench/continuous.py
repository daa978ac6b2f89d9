"""Graded and unbounded benchmark metrics: one method gives each interval and its p-value.

Graded metrics (TruthfulQA mc2, f1, averaged acc): paired t-test with its own t-interval (scipy
`ttest_1samp(...).confidence_interval`), clipped to the metric's range when it has one; when the
differences are essentially constant (standard error below 10 machine epsilons of the mean, R's
`t.test` rule "data are essentially constant") the t-test is undefined and the exact sign-flip
test gives p (2 / 2^n for n equal nonzero differences) with a zero-width interval.
Rolling log-likelihood metrics are aggregated as lm-eval aggregates them (lm_eval/api/metrics.py):
word/byte perplexity exp(-Σll / Σweight), bits per byte -Σll / Σweight / ln 2, with the words or
bytes of each document as weight (lm-eval's `perplexity` has none: exp(-mean ll)). Their intervals
are t-intervals (n - 1 df) of the ratio estimator Σy / Σw with its linearised variance
n / (n - 1) · Σ(y - R·w)² / (Σw)² (Cochran, Sampling Techniques, 6.9); arms are compared on the
same documents as a perplexity ratio exp(Δ) or a difference in bits Δ / ln 2; never in pp.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import stats as sps

from crma_eval import InputError, essentially_constant, sign_flip_test
from crma_eval.api import MAX_MAGNITUDE

# lm-eval metrics aggregated as exp(-Σll / Σweight): corpus perplexity.
PERPLEXITY_METRICS: frozenset[str] = frozenset(
    {"perplexity", "word_perplexity", "byte_perplexity", "ppl"}
)
# lm-eval metrics on a log2 scale (bits): -Σll / Σbytes / ln 2.
BITS_METRICS: frozenset[str] = frozenset({"bits_per_byte", "bpb"})
UNBOUNDED: frozenset[str] = PERPLEXITY_METRICS | BITS_METRICS
# lm-eval's rolling log-likelihood metrics: per-document item (loglikelihood, words or bytes)
ROLLING: frozenset[str] = frozenset({"word_perplexity", "byte_perplexity", "bits_per_byte", "bpb"})
PAIRED_T = "paired t-test with its t-interval"
ZERO_VARIANCE = "exact sign-flip test (essentially constant differences)"
RATIO_T = "ratio estimator (Σ over documents) with a t-interval, n - 1 df"
# R's t.test: stderr < 10 * .Machine$double.eps * |mean| is "essentially constant" (the ratio
# estimator's own standard error, below; plain samples use crma_eval.essentially_constant).
EPS_FACTOR = 10


def t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """t-interval of the mean (NaN for n < 2; zero width for essentially constant values)."""
    if values.size < 2:
        return math.nan, math.nan
    if essentially_constant(values):
        return float(values.mean()), float(values.mean())
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
    d is essentially constant (R's rule, `essentially_constant`); NaN interval and p for n < 2.
    """
    estimate = float(d.mean())
    if d.size < 2:
        return PairedT(estimate, math.nan, math.nan, math.nan, PAIRED_T)
    if essentially_constant(d):
        pvalue = sign_flip_test(d, seed=seed).pvalue
        return PairedT(estimate, estimate, estimate, pvalue, ZERO_VARIANCE)
    res = sps.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(confidence)
    return PairedT(estimate, float(ci.low), float(ci.high), float(res.pvalue), PAIRED_T)


def ratio_t(y: np.ndarray, w: np.ndarray, confidence: float, seed: int) -> PairedT:
    """R = Σy / Σw with a t-interval (n - 1 df) from the linearised variance of the ratio
    estimator and the matching two-sided t-test of R = 0; equal weights give the paired t."""
    estimate = float(y.sum() / w.sum())
    if y.size < 2:
        return PairedT(estimate, math.nan, math.nan, math.nan, RATIO_T)
    residual = y - estimate * w
    se = float(np.sqrt(np.sum(residual**2) * y.size / (y.size - 1)) / w.sum())
    if se < EPS_FACTOR * np.finfo(float).eps * abs(estimate) or se == 0:  # R's t.test rule
        pvalue = sign_flip_test(y, seed=seed).pvalue
        return PairedT(estimate, estimate, estimate, pvalue, ZERO_VARIANCE)
    quantile = float(sps.t.ppf(0.5 + confidence / 2, y.size - 1))
    pvalue = float(2 * sps.t.sf(abs(estimate) / se, y.size - 1))
    return PairedT(estimate, estimate - quantile * se, estimate + quantile * se, pvalue, RATIO_T)


# exp() of more than this overflows float64 (an interval bound beyond it is unbounded); an
# estimate stays within the record bound, like every number derived from records
_MAX_LOG = math.log(np.finfo(float).max)
_MAX_LOG_ESTIMATE = math.log(MAX_MAGNITUDE)


def _exp_estimate(log_value: float, metric: str) -> float:
    """exp of an estimate; InputError beyond ±MAX_MAGNITUDE (a perplexity of 1e100 and more means
    log-likelihoods far outside any model's range: the records are wrong)."""
    if log_value > _MAX_LOG_ESTIMATE:
        raise InputError(
            f"{metric}: exp({log_value:.4g}) is beyond {MAX_MAGNITUDE:g} (mean -loglikelihood per "
            f"weight {log_value:.4g}); check the records' loglikelihood and weight fields",
            field="value",
        )
    return math.exp(log_value)


def _exp_bound(log_value: float) -> float:
    """exp of an interval bound; +inf when it overflows (the interval is unbounded above)."""
    return math.inf if log_value > _MAX_LOG else math.exp(log_value)


def unbounded_score(
    values: np.ndarray, metric: str, confidence: float, weights: np.ndarray | None = None
) -> dict[str, float]:
    """Corpus score of a log-likelihood metric as lm-eval aggregates it, with its interval.

    values: per-document log-likelihoods (<= 0, checked by crma_eval.plugins.bench.checks);
    weights: the words/bytes lm-eval pairs them with (None: each document weighs 1, lm-eval's
    `perplexity` aggregation exp(-mean ll)). Perplexity: exp(-Σll/Σw); bits: -Σll/Σw/ln 2.
    """
    w = np.ones_like(values, dtype=float) if weights is None else weights
    r = ratio_t(-values, w, confidence, 0)
    if metric in BITS_METRICS:
        scale = 1 / math.log(2)
        return {
            "score": r.estimate * scale,
            "n": values.size,
            "ci_low": max(r.low * scale, 0.0),
            "ci_high": r.high * scale,
        }
    return {
        "score": _exp_estimate(r.estimate, metric),
        "n": values.size,
        "ci_low": _exp_bound(r.low),
        "ci_high": _exp_bound(r.high),
    }


def unbounded_compare(
    after: np.ndarray,
    base: np.ndarray,
    metric: str,
    confidence: float,
    seed: int,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Arms compared on the same documents, each document with the same weight under both arms
    (lm-eval's words/bytes of the document text; the caller checks they agree).

    Perplexity: ratio after/base = exp(Δ), Δ = Σ(ll_base - ll_after) / Σw, which equals the
    ratio of the two arms' corpus perplexities exp(-Σll_after/Σw) / exp(-Σll_base/Σw); its
    interval is the t-interval (n - 1 df) of the ratio estimator Δ, exponentiated. Bits per
    byte: Δ / ln 2, the difference of the two arms' bits per byte, with the same interval.
    """
    w = np.ones_like(after, dtype=float) if weights is None else weights
    t = ratio_t(base - after, w, confidence, seed)
    if metric in BITS_METRICS:
        scale = 1 / math.log(2)
        return {
            "delta": t.estimate * scale,
            "delta_ci_low": t.low * scale,
            "delta_ci_high": t.high * scale,
            "pvalue": t.pvalue,
            "unit": "bits",
            "method": f"{t.method} (bits per byte)",
        }
    return {
        "log_ratio": t.estimate,
        "ratio": _exp_estimate(t.estimate, f"{metric} ratio"),
        "ratio_ci_low": _exp_bound(t.low),
        "ratio_ci_high": _exp_bound(t.high),
        "pvalue": t.pvalue,
        "method": f"{t.method} on log perplexity",
    }
