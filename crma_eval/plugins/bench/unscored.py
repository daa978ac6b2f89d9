"""Documents lm-eval could not score (`bench_unscored` records, docs/bench.md): how many per task
and arm, and why. They are left out of every score; the count keeps them visible in results
(`bench.<task>.<arm>.n_unscored`), the metric catalogue and the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crma_eval import InputError, display, in_order, put_metrics
from crma_eval.api import MetricInfo, Table
from crma_eval.plugins.bench.checks import location

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


def _document_keys(frame: pd.DataFrame) -> pd.Series:
    """One text key per record: task, arm, subtask (the task itself when absent), doc_id."""
    subtask = frame["subtask"] if "subtask" in frame else pd.Series(None, index=frame.index)
    subtask = subtask.astype(object).where(subtask.notna(), frame["task"]).astype(str)
    parts = [frame["task"].astype(str), frame["arm"].astype(str), subtask]
    parts.append(frame["doc_id"].astype(str))
    return parts[0] + "\x00" + parts[1] + "\x00" + parts[2] + "\x00" + parts[3]


def check_unscored(bench: pd.DataFrame, unscored: pd.DataFrame | None) -> None:
    """InputError when one document of a task and arm is both scored (a `bench` record) and
    unscored (a `bench_unscored` record): it would count twice (n_documents) and its reason
    would contradict its score. Names both records (file:line) and the next step."""
    if unscored is None or unscored.empty or bench.empty:
        return
    scored, lost = _document_keys(bench), _document_keys(unscored)
    both = lost.isin(set(scored))
    if not both.any():
        return
    row = unscored[both.to_numpy()].iloc[0]
    other = bench[(scored == lost[both].iloc[0]).to_numpy()].iloc[0]
    there = location(other)
    raise InputError(
        f"bench task {row['task']!r} arm {row['arm']!r} document {row['doc_id']!r} is both "
        f"unscored (here) and scored ({there['path']}:{there['line']}, metric "
        f"{other['metric']!r}); keep one of the two records (recollect with crma-eval run)",
        field="doc_id", **location(row),
    )  # fmt: skip


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
