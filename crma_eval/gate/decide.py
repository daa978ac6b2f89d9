"""Decision modes of `compare` rules, and the MDE printed beside every compare verdict.

The drop is the worsening from the baseline by the metric's direction (crma_eval.gate.orient):
baseline − current when higher is better, current − baseline when lower is better.
* significant_drop (default): fail iff drop > max_drop and the paired test gives p < alpha
  (crma_eval.gate.core.check_drop); a pass on an underpowered run shows its MDE.
* non_inferiority: pass only when the upper bound of the one-sided (1 - alpha) interval of the
  drop (the upper end of the two-sided 1 - 2 alpha interval) is below `margin`.
* equivalence: TOST (Schuirmann 1987): pass only when the two-sided (1 - 2 alpha) interval of
  the drop lies within (-margin, margin).
Intervals come from crma_eval.stats.equivalence (Newcombe paired; item-level t for repeated
items). Graded (non-0/1) per-document values (mc2, TER, ...): the t interval of the per-document
worsening (the paired t of `compare`, scipy ttest_1samp; zero width when the differences are
essentially constant, R's t.test rule) and the one-sample t MDE. Without per-item records there
is no interval, and both margin modes fail saying so; so do records of log-likelihoods
(perplexity, bits per byte: not in the metric's units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from crma_eval.evidence import Evidence
from crma_eval.fmt import gate_value
from crma_eval.gate.spec import Rule
from crma_eval.stats import essentially_constant
from crma_eval.stats.equivalence import DropInterval, drop_interval, paired_mde
from crma_eval.stats.power import Mde, one_sample_mde

GRADED_T = "paired t on per-document differences"
LOGLIK = (
    "per-document records are log-likelihoods, not values of this metric (perplexity, bits per "
    "byte): no interval in its units; use significant_drop or a metric rule"
)


@dataclass(frozen=True)
class Decision:
    """A margin mode's verdict on one metric: passed, the interval it rests on, the sentence."""

    passed: bool
    interval: DropInterval | None
    detail: str


def rule_mde(rule: Rule, evidence: Evidence) -> Mde | None:
    """The MDE of the rule's paired test at its alpha and power (None without paired records,
    or graded differences without spread)."""
    if evidence.d is not None:
        sd = float(np.std(evidence.d, ddof=1)) if evidence.d.size > 1 else 0.0
        if sd == 0 or not math.isfinite(sd):
            return None
        note = f"{GRADED_T}, sd {sd:.3g}"
        return one_sample_mde(int(evidence.d.size), sd, rule.alpha, rule.power, note)
    if evidence.x is None or evidence.y is None:
        return None
    return paired_mde(evidence.x, evidence.y, evidence.items, rule.alpha, rule.power)


def graded_interval(worse: np.ndarray, confidence: float) -> DropInterval:
    """Two-sided t interval (n - 1 df) of the mean per-document worsening; zero width for
    essentially constant differences; (-inf, inf) for fewer than 2 documents."""
    mean = float(np.mean(worse)) if worse.size else math.nan
    if worse.size < 2:
        return DropInterval(mean, -math.inf, math.inf, confidence, GRADED_T, int(worse.size))
    if essentially_constant(worse):
        method = f"{GRADED_T}, essentially constant: zero width"
        return DropInterval(mean, mean, mean, confidence, method, int(worse.size))
    ci = sps.ttest_1samp(worse, 0.0).confidence_interval(confidence)
    return DropInterval(mean, float(ci.low), float(ci.high), confidence, GRADED_T, worse.size)


def _interval(evidence: Evidence, level: float, lower: bool) -> DropInterval:
    """The interval of the worsening: graded t, Newcombe paired or item-level t."""
    if evidence.d is not None:
        return graded_interval(evidence.d if lower else -evidence.d, level)
    assert evidence.x is not None and evidence.y is not None
    first, second = (evidence.y, evidence.x) if lower else (evidence.x, evidence.y)
    return drop_interval(first, second, evidence.items, level)


def worsening_interval(evidence: Evidence, alpha: float, lower: bool = False) -> DropInterval:
    """The two-sided (1 - 2 alpha) interval of the worsening the margin modes test (its upper end
    is the one-sided 1 - alpha bound); evidence must carry paired records (x, y or d)."""
    return _interval(evidence, 1 - 2 * alpha, lower)


def decide_margin(
    rule: Rule, evidence: Evidence, lower: bool = False, loglik: bool = False
) -> Decision:
    """non_inferiority or equivalence on the paired records of one metric.

    lower: the metric is lower-is-better, so the drop (worsening) is current − baseline.
    loglik: the records are log-likelihoods of a perplexity-like metric (no interval)."""
    if evidence.d is not None and loglik:
        return Decision(False, None, f"{rule.mode}: {LOGLIK}")
    if evidence.d is None and (evidence.x is None or evidence.y is None):
        why = f"{rule.mode} needs per-item 0/1 records (or graded values) in both runs"
        why += f" ({evidence.note})"
        return Decision(False, None, why)
    level = 1 - 2 * rule.alpha
    interval = _interval(evidence, level, lower)
    bounds = (
        f"{level:.0%} interval of the worsening [{gate_value(interval.low)}, "
        f"{gate_value(interval.high)}] ({interval.method}, n = {interval.n})"
    )
    margin = gate_value(rule.margin)
    if rule.mode == "non_inferiority":
        passed = interval.high < rule.margin
        verdict = (
            f"non-inferior: upper bound < margin {margin}"
            if passed
            else f"non-inferiority not shown: upper bound ≥ margin {margin}"
        )
    else:
        passed = -rule.margin < interval.low and interval.high < rule.margin
        verdict = (
            f"equivalent (TOST): within ±{margin}"
            if passed
            else f"equivalence not shown (TOST): not within ±{margin}"
        )
    return Decision(passed, interval, f"{bounds}; {verdict}")
