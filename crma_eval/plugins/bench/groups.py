"""lm-eval group scores from bench records: lm-eval's own rule (lm_eval/api/group.py).

A group's score for a metric and filter named in its `aggregate_metric_list` is the mean of its
leaf tasks' scores (nested groups included: lm-eval aggregates over all leaf tasks), weighted by
their document counts when `weight_by_size` is true (= the mean over all documents) and equally
when false. A group without an aggregate_metric_list reports no score in lm-eval; here its
documents are pooled and the method says so. Records of a group's subtasks carry `subtask` and
`groups` (the groups containing the subtask, outermost first, with their aggregation rules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

POOLED = "pooled over documents"
BY_SIZE = "lm-eval group rule, weight_by_size: true (mean over all documents)"
EQUAL = "lm-eval group rule, weight_by_size: false (mean of subtask means)"


@dataclass(frozen=True)
class GroupRule:
    """One group as records describe it: its leaf tasks and aggregation rules."""

    name: str
    aggregate: tuple[dict[str, Any], ...]
    leaves: tuple[str, ...]

    def weight_by_size(self, metric: str, filt: str) -> bool | None:
        """The group's weight_by_size for a metric and filter; None when it reports no score
        for them (not in its aggregate_metric_list)."""
        for agg in self.aggregate:
            filters = agg.get("filter_list")
            if agg.get("metric") == metric and (filters is None or filt in filters):
                return bool(agg.get("weight_by_size", True))
        return None

    def metrics(self) -> list[str]:
        """The metrics the group aggregates, in its list's order."""
        return list(dict.fromkeys(str(a.get("metric")) for a in self.aggregate))


def group_rules(rows: pd.DataFrame) -> dict[str, GroupRule]:
    """Every group the records describe, by name (empty for a plain task)."""
    if "groups" not in rows or "subtask" not in rows:
        return {}
    leaves: dict[str, set[str]] = {}
    aggregate: dict[str, tuple[dict[str, Any], ...]] = {}
    order: list[str] = []
    for subtask, groups in zip(rows["subtask"], rows["groups"], strict=True):
        if not isinstance(groups, list):
            continue
        for group in groups:
            name = str(group.get("name"))
            if name not in aggregate:
                order.append(name)
                aggregate[name] = tuple(group.get("aggregate") or ())
            leaves.setdefault(name, set()).add(str(subtask))
    return {n: GroupRule(n, aggregate[n], tuple(sorted(leaves[n]))) for n in order}


def preferred_metrics(task: str, rows: pd.DataFrame) -> list[str]:
    """The metrics the task's own group aggregates (lm-eval reports these), else none."""
    rule = group_rules(rows).get(task)
    return rule.metrics() if rule is not None else []


def document_weights(rows: pd.DataFrame, rule: GroupRule | None, metric: str, filt: str) -> Any:
    """Per-document weights (summing to 1) of the group score, and the method's name.

    Equal weights for a plain task, a group weighted by size, or one without a rule."""
    n = len(rows)
    by_size = None if rule is None else rule.weight_by_size(metric, filt)
    if rule is None or by_size is None or by_size or "subtask" not in rows:
        method = POOLED if rule is not None and by_size is None else BY_SIZE
        return np.full(n, 1.0 / n), (method if rule is not None else None)
    sizes = rows["subtask"].map(rows["subtask"].value_counts()).to_numpy(float)
    k = rows["subtask"].nunique()
    return 1.0 / (k * sizes), EQUAL


def stratified(values: np.ndarray, strata: np.ndarray, confidence: float) -> dict[str, float]:
    """Mean of per-stratum means (equal weight) with lm-eval's unweighted_mean_stderr
    sqrt(Σ se_s²) / k and a normal interval; p of the z-test of 0 (for paired differences)."""
    frame = pd.DataFrame({"v": values, "s": strata})
    by = frame.groupby("s", sort=False)["v"]
    means, sems = by.mean(), by.sem()
    k = len(means)
    estimate = float(means.mean())
    se = float(np.sqrt(np.sum(sems.to_numpy() ** 2)) / k)
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    if not math.isfinite(se) or se == 0:
        return {"estimate": estimate, "low": math.nan, "high": math.nan, "pvalue": math.nan}
    pvalue = float(2 * sps.norm.sf(abs(estimate) / se))
    low, high = estimate - z * se, estimate + z * se
    return {"estimate": estimate, "low": low, "high": high, "pvalue": pvalue}


def subscores(rows: pd.DataFrame, metric: str, filt: str) -> list[dict[str, Any]]:
    """Scores of each sub-group (by its own rule; pooled without one) and each leaf subtask."""
    if "subtask" not in rows:
        return []
    out = []
    values = rows["value"].astype(float)
    for rule in group_rules(rows).values():
        inside = rows["subtask"].isin(rule.leaves).to_numpy()
        weights, method = document_weights(rows[inside], rule, metric, filt)
        score = float(np.sum(weights * values[inside].to_numpy()))
        out.append({"level": "group", "name": rule.name, "score": score, "n": int(inside.sum())})
        out[-1]["method"] = method
    for subtask, of_task in values.groupby(rows["subtask"], sort=False):
        out.append({"level": "subtask", "name": str(subtask), "score": float(of_task.mean())})
        out[-1] |= {"n": len(of_task), "method": "mean over documents"}
    return out
