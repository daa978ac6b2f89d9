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
items). Without per-item 0/1 records there is no interval, and both margin modes fail saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

from crma_eval.evidence import Evidence
from crma_eval.fmt import gate_value
from crma_eval.gate.spec import Rule
from crma_eval.stats.equivalence import DropInterval, drop_interval, paired_mde
from crma_eval.stats.power import Mde


@dataclass(frozen=True)
class Decision:
    """A margin mode's verdict on one metric: passed, the interval it rests on, the sentence."""

    passed: bool
    interval: DropInterval | None
    detail: str


def rule_mde(rule: Rule, evidence: Evidence) -> Mde | None:
    """The MDE of the rule's paired test at its alpha and power (None without paired records)."""
    if evidence.x is None or evidence.y is None:
        return None
    return paired_mde(evidence.x, evidence.y, evidence.items, rule.alpha, rule.power)


def worsening_interval(evidence: Evidence, alpha: float, lower: bool = False) -> DropInterval:
    """The two-sided (1 - 2 alpha) interval of the worsening the margin modes test (its upper end
    is the one-sided 1 - alpha bound); evidence must carry paired 0/1 records (x, y)."""
    assert evidence.x is not None and evidence.y is not None
    first, second = (evidence.y, evidence.x) if lower else (evidence.x, evidence.y)
    return drop_interval(first, second, evidence.items, 1 - 2 * alpha)


def decide_margin(rule: Rule, evidence: Evidence, lower: bool = False) -> Decision:
    """non_inferiority or equivalence on the paired records of one metric.

    lower: the metric is lower-is-better, so the drop (worsening) is current − baseline."""
    if evidence.x is None or evidence.y is None:
        why = f"{rule.mode} needs per-item 0/1 records in both runs ({evidence.note})"
        return Decision(False, None, why)
    level = 1 - 2 * rule.alpha
    interval = worsening_interval(evidence, rule.alpha, lower)
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
