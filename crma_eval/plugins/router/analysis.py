"""Router stress-suite numbers: accuracy per category, macro F1, OOD AUROC, confusion, coverage."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, roc_auc_score

from crma_eval.errors import InputError
from crma_eval.fmt import ci_methods, first_row, proportion, put_metrics, where
from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.router.records import ROUTE_CATEGORIES

PLUGIN = "router"
NONE = "(none)"
CURVE_POINTS = 200


def correctness(route: pd.DataFrame) -> pd.Series:
    """Routed to the gold domain; for items without a gold domain, abstained (predicted null)."""
    ood_with_gold = (route["category"] == "ood") & route["gold"].notna()
    if ood_with_gold.any():
        raise InputError(
            "an ood query must have gold null (no domain is right)",
            field="gold",
            **where(first_row(route, ood_with_gold)),
        )
    gold, predicted = route["gold"], route["predicted"]
    return (gold.isna() & predicted.isna()) | (gold.notna() & (predicted == gold))


def _macro_f1(route: pd.DataFrame) -> float:
    """Macro F1 over items with a gold domain; abstentions count as misses of the gold class."""
    known = route[route["gold"].notna()]
    if known.empty:
        return math.nan
    labels = sorted(known["gold"].unique())
    predicted = known["predicted"].fillna(NONE)
    return float(
        f1_score(known["gold"], predicted, labels=labels, average="macro", zero_division=0)
    )


def _auroc(route: pd.DataFrame) -> float:
    """How well `score` separates in-distribution (gold known) from OOD items; NaN if one lacks."""
    in_dist = route["gold"].notna()
    if in_dist.all() or not in_dist.any():
        return math.nan
    return float(roc_auc_score(in_dist.to_numpy(), route["score"].to_numpy()))


def _confusion(route: pd.DataFrame) -> dict[str, Any]:
    gold = route["gold"].fillna(NONE)
    predicted = route["predicted"].fillna(NONE)
    labels = [*sorted((set(gold.unique()) | set(predicted.unique())) - {NONE}), NONE]
    table = pd.crosstab(gold, predicted).reindex(index=labels, columns=labels, fill_value=0)
    return {"labels": labels, "counts": table.to_numpy().tolist()}


def _coverage_curve(scores: np.ndarray, correct: np.ndarray) -> dict[str, list[float]]:
    """Selective accuracy when answering only the top-scored share of queries (score desc)."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(correct[order])
    taken = np.arange(1, scores.size + 1)
    pick = np.unique(np.linspace(0, scores.size - 1, min(CURVE_POINTS, scores.size)).astype(int))
    return {
        "coverage": (taken[pick] / scores.size).tolist(),
        "accuracy": (hits[pick] / taken[pick]).tolist(),
        "threshold": scores[order][pick].tolist(),
    }


def analyze_router(route: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult:
    """Per-category and overall accuracy with CIs, macro F1, OOD AUROC, confusion and coverage."""
    correct = correctness(route)
    counts = correct.groupby(route["category"]).agg(["sum", "size"])
    metrics: dict[str, float] = {}
    rows = []
    for category in [c for c in ROUTE_CATEGORIES if c in counts.index]:
        row = {
            "category": category,
            **proportion(counts.at[category, "sum"], counts.at[category, "size"], options),
        }
        rows.append(row)
        put_metrics(metrics, (PLUGIN, category), {k: v for k, v in row.items() if k != "category"})
    overall = proportion(int(correct.sum()), int(correct.size), options)
    macro_f1, auroc = _macro_f1(route), _auroc(route)
    put_metrics(metrics, (PLUGIN, "overall"), {**overall, "macro_f1": macro_f1})
    if not math.isnan(auroc):
        put_metrics(metrics, (PLUGIN, "ood"), {"auroc": auroc})
    details = {
        "rows": rows,
        "overall": overall,
        "macro_f1": macro_f1,
        "auroc": auroc,
        "confusion": _confusion(route),
        "curve": _coverage_curve(route["score"].to_numpy(float), correct.to_numpy()),
    }
    methods = {
        **ci_methods(options),
        "f1": "macro (sklearn), items with a gold domain",
        "auroc": "roc_auc_score of score, in-distribution vs ood",
    }
    return AnalysisResult(metrics=metrics, details=details, methods=methods)
