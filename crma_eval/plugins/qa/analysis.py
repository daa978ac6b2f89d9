"""Per-arm (and per-condition), per-domain QA accuracy with intervals on the right unit.

Items answered once: Wilson (or the chosen) interval on k of n. Items answered several times
(seeds, checkpoints): per-seed rows, the across-seed mean and sample std, and the pooled accuracy
with an item-clustered (CR1) interval kept in [0, 1] (stats.clustered_proportion).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from crma_eval import (
    CLUSTERED_METHOD,
    ci_methods,
    conditions,
    group_summary,
    in_order,
    metric_name,
    of_condition,
    put_metrics,
    repeats_items,
    with_items,
)
from crma_eval.api import AnalysisResult, AnalyzeOptions, MetricInfo, describe
from crma_eval.plugins.qa.accuracy import accuracy, row_info

PLUGIN = "qa"
PUBLIC = ("k", "n", "accuracy", "ci_low", "ci_high", "misrouted")
REPEATED = ("n_items", "n_observations", "design_effect", "n_effective")


def _routing(qa: pd.DataFrame) -> pd.DataFrame:
    """Per record: routed (its arm is routed) and misrouted flags, when `routed_domain` exists."""
    routed = qa["routed_domain"]
    # An arm is routed when any of its records names a routed domain; within such an arm a
    # missing routed_domain means the router abstained, which is a routing failure too.
    is_routed = routed.notna().groupby(qa["arm"]).transform("any")
    return pd.DataFrame(
        {"routed": is_routed, "misrouted": is_routed & (routed.isna() | (routed != qa["domain"]))}
    )


def replicate_column(rows: pd.DataFrame) -> str | None:
    """`seed` (else `checkpoint`) when repeated items come from several of them, else None."""
    if not repeats_items(rows):
        return None
    for column in ("seed", "checkpoint"):
        if column in rows.columns and rows[column].nunique() > 1:
            return column
    return None


def _row(rows: pd.DataFrame, head: dict[str, Any], options: AnalyzeOptions) -> dict[str, Any]:
    row = head | accuracy(rows, options)
    if "misrouted" in rows.columns and rows["routed"].any():  # only arms the router picks
        row["routed"] = int(rows["routed"].sum())
        row["misrouted"] = int(rows["misrouted"].sum())
    column = replicate_column(rows)
    if column is not None:
        per = [
            {column: value, **accuracy(group, options)}
            for value, group in rows.groupby(column, sort=False)
        ]
        row["replicate"] = column
        row["replicates"] = per
        summary = group_summary([r["accuracy"] for r in per])
        row["replicate_summary"] = {"mean": summary.mean, "std": summary.std, "n": summary.n}
    return row


def _what(parts: tuple[Any, ...]) -> str:
    """A row's estimand in words, e.g. 'share of answers correct, arm with_crma, all domains'."""
    _, arm, cond, *domain = parts
    where = f"domain {domain[0]}" if domain and domain[0] is not None else "all domains"
    return f"share of answers correct, arm {arm}" + (f", {cond}" if cond else "") + f", {where}"


def _put(
    out: tuple[dict[str, float], dict[str, MetricInfo]],
    parts: tuple[Any, ...],
    row: dict[str, Any],
    confidence: float,
) -> None:
    metrics, info = out
    names = put_metrics(metrics, parts, {k: row[k] for k in (*PUBLIC, *REPEATED) if k in row})
    what = _what(parts)
    info |= row_info(names, metric_name(*parts), row, what, confidence)
    column = row.get("replicate")
    if column is None:
        return
    for rep in row["replicates"]:
        each = (*parts, f"{column}_{rep[column]}")
        names = put_metrics(metrics, each, {k: rep[k] for k in PUBLIC[:5]})
        info |= row_info(names, metric_name(*each), rep, f"{what}, {column} {rep[column]}",
                         confidence)  # fmt: skip
    names = put_metrics(metrics, (*parts, f"{column}s"), row["replicate_summary"])
    info |= describe(
        names, metric_name(*parts, f"{column}s"), "mean", f"mean over {column}s of {what}",
        unit=column, n=int(row["replicate_summary"]["n"]), method=f"mean of per-{column} accuracy",
        direction="higher",
    )  # fmt: skip


def analyze_qa(qa: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult:
    """Accuracy and CI per arm (and condition, when the arm's records carry several) and domain.

    Metrics `qa.<arm>[.<condition>][.<domain>].<stat>`; with repeated items also
    `.n_items`, `.n_observations`, `.design_effect`, `.n_effective`, per replicate
    `.seed_<s>.<stat>` and across replicates `.seeds.{mean,std,n}` (see README).
    """
    frame = with_items(qa.assign(correct=qa["correct"].astype(bool)))
    if "routed_domain" in qa.columns:
        frame = frame.join(_routing(qa))
    metrics: dict[str, float] = {}
    info: dict[str, MetricInfo] = {}
    rows: list[dict[str, Any]] = []
    for arm in in_order(frame["arm"]):
        of_arm = frame[frame["arm"] == arm]
        # An arm answered under several training conditions gets one row set per condition
        # (`qa.<arm>.<condition>...`); an arm of one condition keeps `qa.<arm>...`.
        for cond in conditions(of_arm):
            group = of_condition(of_arm, cond)
            if group.empty:
                continue
            head = {"arm": arm, "condition": cond}
            for domain, per_domain in group.groupby("domain", sort=False):
                row = _row(per_domain, head | {"domain": domain}, options)
                rows.append(row)
                _put((metrics, info), (PLUGIN, arm, cond, domain), row, options.confidence)
            total = _row(group, head | {"domain": None}, options)
            rows.append(total)
            _put((metrics, info), (PLUGIN, arm, cond), total, options.confidence)
    details = {
        "rows": rows,
        "routing": "misrouted" in frame.columns,
        "conditions": [c for c in conditions(frame) if c is not None],
    }
    methods = ci_methods(options)
    if any(r["method"] == CLUSTERED_METHOD for r in rows):
        methods["ci_repeated"] = CLUSTERED_METHOD
        methods["replicate_std"] = "sample (ddof=1)"
    _add_scorers(qa, options, (metrics, info), details)
    return AnalysisResult(metrics=metrics, details=details, methods=methods, metric_info=info)


def _add_scorers(
    qa: pd.DataFrame,
    options: AnalyzeOptions,
    out: tuple[dict[str, float], dict[str, MetricInfo]],
    details: dict[str, Any],
) -> None:
    """Scorers side by side (crma_eval.plugins.qa.scorer_compare), when records carry verdicts."""
    from crma_eval.plugins.qa.scorer_compare import compare_scorers

    compared = compare_scorers(qa, options)
    if compared is not None:
        out[0].update(compared[0])
        out[1].update(compared[2])
        details["scorers"] = compared[1]
