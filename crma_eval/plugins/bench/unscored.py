"""Documents lm-eval could not score (`bench_unscored` records, docs/bench.md): how many per task
and arm, and why. They are left out of every score; the count keeps them visible in results
(`bench.<task>.<arm>.n_unscored`), the metric catalogue and the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crma_eval import display, in_order, put_metrics
from crma_eval.api import MetricInfo, Table

PLUGIN = "bench"
STAT = "n_unscored"


def unscored_counts(bench: pd.DataFrame, unscored: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Per (task, arm) of either frame, in record order: n_unscored, n_documents (scored ones
    plus unscored ones) and reasons (reason -> count)."""
    frames = [f for f in (bench, unscored) if f is not None and not f.empty]
    both = pd.concat([f[["task", "arm"]].astype(str) for f in frames], ignore_index=True)
    rows = []
    for task in in_order(both["task"]):
        for arm in in_order(both.loc[both["task"] == task, "arm"]):
            scored = bench[(bench["task"].astype(str) == task) & (bench["arm"].astype(str) == arm)]
            lost = _of(unscored, task, arm)
            reasons = Counter(lost["reason"].astype(str)) if not lost.empty else Counter()
            n_docs = scored["doc_id"].astype(str).nunique() + len(lost)
            rows.append(
                {"task": task, "arm": arm, STAT: len(lost), "n_documents": n_docs,
                 "reasons": dict(reasons)}
            )  # fmt: skip
    return rows


def _of(frame: pd.DataFrame | None, task: str, arm: str) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame({"reason": []})
    return frame[(frame["task"].astype(str) == task) & (frame["arm"].astype(str) == arm)]


def put_unscored(metrics: dict[str, float], rows: list[dict[str, Any]]) -> dict[str, MetricInfo]:
    """Add `bench.<task>.<arm>.n_unscored` for every row; their catalogue entries."""
    info = {}
    for row in rows:
        (name,) = put_metrics(metrics, (PLUGIN, row["task"], row["arm"]), {STAT: row[STAT]})
        info[name] = MetricInfo(
            role="count",
            estimand=f"documents of task {row['task']} lm-eval could not score under arm "
            f"{row['arm']} (left out of every score; reasons in the report)",
            unit="document",
            n=int(row["n_documents"]),
            method="count of bench_unscored records",
            scale="count",
        )
    return info


def unscored_table(rows: list[dict[str, Any]], opts: Mapping[str, Any]) -> Table | None:
    """The task/arm pairs with unscored documents: how many, of how many, and why (None: all
    documents were scored)."""
    body = [
        [r["task"], display(opts, r["arm"]), r[STAT], r["n_documents"],
         "; ".join(f"{reason} ({n})" for reason, n in r["reasons"].items())]
        for r in rows
        if r[STAT]
    ]  # fmt: skip
    if not body:
        return None
    return Table(
        columns=["Task", "Arm", "Unscored", "of documents", "Reason (documents)"],
        rows=body,
        caption="Documents that could not be scored (left out of every score and pair)",
        notes=["One record each in RUN_DIR/records/bench_unscored.jsonl (task, arm, subtask, "
               "doc id, reason) and RUN_DIR/logs/bench-unscored.jsonl."],
        id="unscored",
    )  # fmt: skip
