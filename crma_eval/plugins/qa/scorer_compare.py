"""Scorers side by side (QA analysis): each scorer's accuracy per arm, pairwise agreement, and
the items on which the scorers disagree, and the verdicts each scorer abstained on or flagged
(e.g. a judged answer holding judge-format markers). Pure pandas; reads the records' `verdicts`,
`scores`, `abstained` and `flags`.

Accuracy of a scorer = passed / scored, over the records it scored and did not abstain on; the
interval is the run's proportion CI. Agreement of two scorers = share of records, scored by both,
on which their verdicts are equal.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pandas as pd

from crma_eval import in_order, metric_name, put_metrics, with_items
from crma_eval.api import AnalyzeOptions, MetricInfo
from crma_eval.plugins.qa.accuracy import accuracy, row_info

MAX_SHOWN = 50
TEXT_CHARS = 200


def _maps(column: pd.Series | None, index: pd.Index) -> pd.DataFrame:
    """A {name: value} record column as a frame (one column per name; absent = NaN)."""
    if column is None:
        return pd.DataFrame(index=index)
    rows = [v if isinstance(v, dict) else {} for v in column]
    return pd.DataFrame(rows, index=index)


def _count(marks: pd.DataFrame, name: str, mine: pd.Series) -> int:
    """Records of `mine` on which scorer `name` left a mark (an abstention or a flag)."""
    return int(marks[name].notna()[mine].sum()) if name in marks else 0


def _reasons(marks: pd.DataFrame, names: list[str]) -> dict[str, dict[str, int]]:
    """{scorer: {reason: records}} of the abstentions or flags in `marks` (scorers with any)."""
    out = {}
    for name in names:
        if name in marks and marks[name].notna().any():
            counts = marks[name].dropna().astype(str).value_counts()
            out[name] = {str(k): int(v) for k, v in counts.items()}
    return out


def _accuracy_rows(
    qa: pd.DataFrame, verdicts: pd.DataFrame, scores: pd.DataFrame, abstained: pd.DataFrame,
    flags: pd.DataFrame, options: AnalyzeOptions,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for arm in in_order(qa["arm"]):
        mine = qa["arm"] == arm
        for name in verdicts.columns:
            passed = verdicts.loc[mine, name].dropna().astype(bool)
            row: dict[str, Any] = {
                "arm": arm,
                "scorer": name,
                "abstained": _count(abstained, name, mine),
                "flagged": _count(flags, name, mine),
            }
            if len(passed):
                scored = with_items(qa.loc[passed.index].assign(correct=passed))
                row |= accuracy(scored, options)
                row["mean_score"] = float(scores.loc[mine, name].dropna().astype(float).mean())
            else:
                row |= {"k": 0, "n": 0}
            rows.append(row)
    return rows


def _agreement(verdicts: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for a, b in combinations(verdicts.columns, 2):
        both = verdicts[[a, b]].dropna()
        n = len(both)
        agree = int((both[a].astype(bool) == both[b].astype(bool)).sum())
        out.append({"a": a, "b": b, "n": n, "agree": agree, "rate": agree / n if n else None})
    return out


def _short(value: Any) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _disagreements(qa: pd.DataFrame, verdicts: pd.DataFrame) -> tuple[int, list[dict[str, Any]]]:
    known = verdicts.notna()
    passed = verdicts.where(known, False).astype(bool)
    split = (passed & known).any(axis=1) & (~passed & known).any(axis=1)
    shown = []
    for i in qa.index[split][:MAX_SHOWN]:
        row = qa.loc[i]
        shown.append(
            {
                "arm": row["arm"],
                "domain": row["domain"],
                "item_id": row["item_id"],
                "reference": _short(row.get("reference")),
                "prediction": _short(row.get("prediction")),
                "verdicts": {k: bool(v) for k, v in verdicts.loc[i].items() if known.loc[i, k]},
            }
        )
    return int(split.sum()), shown


def compare_scorers(
    qa: pd.DataFrame, options: AnalyzeOptions
) -> tuple[dict[str, float], dict[str, Any], dict[str, MetricInfo]] | None:
    """(metrics `qa.<arm>.scorer.<name>.{k,n,accuracy,ci_low,ci_high,abstained}`, details,
    their catalogue entries); None when the records carry no `verdicts`. The interval is the one
    the QA table uses for the same answers (item-clustered when items repeat)."""
    if "verdicts" not in qa.columns:
        return None
    verdicts = _maps(qa["verdicts"], qa.index)
    if verdicts.empty or not len(verdicts.columns):
        return None
    scores = _maps(qa.get("scores"), qa.index).reindex(columns=verdicts.columns)
    abstained = _maps(qa.get("abstained"), qa.index)
    flags = _maps(qa.get("flags"), qa.index)  # e.g. answers holding judge-format markers
    rows = _accuracy_rows(qa, verdicts, scores, abstained, flags, options)
    metrics: dict[str, float] = {}
    info: dict[str, MetricInfo] = {}
    for row in rows:
        stats = {k: row[k] for k in ("k", "n", "accuracy", "ci_low", "ci_high") if k in row}
        parts = ("qa", row["arm"], "scorer", row["scorer"])
        names = put_metrics(metrics, parts, stats | {"abstained": row["abstained"]})
        what = f"share of scored answers passed by scorer {row['scorer']}, arm {row['arm']}"
        info |= row_info(names, metric_name(*parts), row | {"method": row.get("method")}, what,
                         options.confidence)  # fmt: skip
    n_split, shown = _disagreements(qa, verdicts)
    primary = qa["primary"].dropna().unique().tolist() if "primary" in qa.columns else []
    details = {
        "names": list(verdicts.columns),
        "primary": [str(p) for p in primary],
        "rows": rows,
        "agreement": _agreement(verdicts),
        "disagreements": {"n": n_split, "shown": shown},
        "flagged": _reasons(flags, list(verdicts.columns)),
        "abstained": _reasons(abstained, list(verdicts.columns)),
    }
    return metrics, details, info
