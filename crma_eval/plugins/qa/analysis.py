"""Per-arm, per-domain QA accuracy with confidence intervals (and routing mismatches)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crma_eval.fmt import ci_methods, in_order, proportion, put_metrics
from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions

PLUGIN = "qa"


def _counts(qa: pd.DataFrame) -> pd.DataFrame:
    """k, n (and routing mismatches when `routed_domain` exists) per (arm, domain), in order."""
    frame = pd.DataFrame(
        {"arm": qa["arm"], "domain": qa["domain"], "correct": qa["correct"].astype(bool)}
    )
    aggs: dict[str, tuple[str, str]] = {"k": ("correct", "sum"), "n": ("correct", "size")}
    if "routed_domain" in qa.columns:
        # An arm is routed when any of its records names a routed domain; within such an arm a
        # missing routed_domain means the router abstained, which is a routing failure too.
        routed = qa["routed_domain"]
        frame["routed"] = routed.notna().groupby(qa["arm"]).transform("any")
        frame["misrouted"] = frame["routed"] & (routed.isna() | (routed != qa["domain"]))
        aggs |= {"routed": ("routed", "sum"), "misrouted": ("misrouted", "sum")}
    return frame.groupby(["arm", "domain"], sort=False).agg(**aggs).reset_index()


def _row(arm: str, domain: str | None, sums: pd.Series, options: AnalyzeOptions) -> dict[str, Any]:
    row: dict[str, Any] = {
        "arm": arm,
        "domain": domain,
        **proportion(sums["k"], sums["n"], options),
    }
    if "misrouted" in sums and sums["routed"] > 0:  # only arms whose adapter the router picks
        row["routed"] = int(sums["routed"])
        row["misrouted"] = int(sums["misrouted"])
    return row


def analyze_qa(qa: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult:
    """Accuracy and CI per arm and domain, and per arm over all domains."""
    counts = _counts(qa)
    metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for arm in in_order(counts["arm"]):
        per_arm = counts[counts["arm"] == arm]
        for _, sums in per_arm.iterrows():
            row = _row(arm, sums["domain"], sums, options)
            rows.append(row)
            put_metrics(metrics, (PLUGIN, arm, row["domain"]), _public(row))
        total = _row(arm, None, per_arm.drop(columns=["arm", "domain"]).sum(), options)
        rows.append(total)
        put_metrics(metrics, (PLUGIN, arm), _public(total))
    details = {"rows": rows, "routing": "misrouted" in counts.columns}
    _add_scorers(qa, options, metrics, details)
    return AnalysisResult(metrics=metrics, details=details, methods=ci_methods(options))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """The gateable stats of one row (misrouted counts included when known)."""
    keys = ("k", "n", "accuracy", "ci_low", "ci_high", "misrouted")
    return {k: row[k] for k in keys if k in row}


def _add_scorers(
    qa: pd.DataFrame, options: AnalyzeOptions, metrics: dict[str, float], details: dict[str, Any]
) -> None:
    """Scorers side by side (crma_eval.scorers.compare), when the records carry verdicts."""
    from crma_eval.scorers.compare import compare_scorers

    compared = compare_scorers(qa, options)
    if compared is not None:
        metrics.update(compared[0])
        details["scorers"] = compared[1]
