"""Router stress-suite numbers: accuracy per category, macro F1 (two ways), OOD detection with
bootstrap intervals, calibration, selective routing, threshold sweep and the oracle gap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crma_eval.errors import InputError
from crma_eval.fmt import ci_methods, first_row, proportion, put_metrics, where
from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.router import metrics as rm
from crma_eval.plugins.router.catalogue import router_info
from crma_eval.plugins.router.oracle_gap import (
    attribution,
    default_routed_arm,
    listed_items,
    paired_items,
)
from crma_eval.plugins.router.records import ROUTE_CATEGORIES
from crma_eval.stats.resample import DEFAULT_RESAMPLES, rows_bootstrap_ci

PLUGIN = "router"
NONE = "(none)"
CURVE_POINTS = 200
DEFAULT_TARGET_OOD_FPR = 0.05


def _check_ood(route: pd.DataFrame) -> None:
    ood_with_gold = (route["category"] == "ood") & route["gold"].notna()
    if ood_with_gold.any():
        raise InputError(
            "an ood query must have gold null (no domain is right)",
            field="gold",
            **where(first_row(route, ood_with_gold)),
        )


def effective_prediction(route: pd.DataFrame) -> pd.Series:
    """`predicted`, replaced by `gold` where it is in the record's optional `acceptable` list."""
    predicted = route["predicted"]
    if "acceptable" not in route.columns:
        return predicted
    ok = [
        isinstance(acc, list) and p is not None and p in acc
        for p, acc in zip(predicted, route["acceptable"], strict=True)
    ]
    return predicted.mask(pd.Series(ok, index=route.index), route["gold"])


def correctness(route: pd.DataFrame) -> pd.Series:
    """Routed to the gold (or an acceptable) domain; without a gold domain, abstained."""
    _check_ood(route)
    gold, predicted = route["gold"], effective_prediction(route)
    return (gold.isna() & predicted.isna()) | (gold.notna() & (predicted == gold))


def _top_domain(route: pd.DataFrame) -> pd.Series:
    """The domain the router would pick without its threshold: effective prediction, else the
    best of `scores` (None when neither is known)."""
    top = effective_prediction(route)
    if "scores" not in route.columns:
        return top
    best = route["scores"].map(
        lambda s: max(s.items(), key=lambda kv: kv[1])[0] if isinstance(s, dict) and s else None
    )
    return top.where(top.notna(), best)


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


def _with_ci(
    metrics: dict[str, float], name: str, stat: Any, arrays: tuple[np.ndarray, ...], opts: Any
) -> None:
    """metrics[name] = stat(*arrays) and, when defined, its percentile bootstrap interval."""
    metrics[name] = stat(*arrays)
    if math.isnan(metrics[name]) or len(arrays[0]) < 2:
        return
    ci = rows_bootstrap_ci(stat, arrays, opts.confidence, seed=opts.seed)
    metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = ci.low, ci.high


def _f1_stats(route: pd.DataFrame, options: AnalyzeOptions) -> dict[str, float]:
    """macro_f1 (queries with a gold domain) and macro_f1_ood_fp (all queries: an OOD query
    routed to a domain is a false positive of that domain), over the gold domains."""
    gold = route["gold"].fillna(NONE).to_numpy(object)
    predicted = effective_prediction(route).fillna(NONE).to_numpy(object)
    known = gold != NONE
    labels = sorted(set(gold[known]))

    def f1(g: np.ndarray, p: np.ndarray) -> float:
        return rm.macro_f1(g, p, labels)

    out: dict[str, float] = {}
    _with_ci(out, "macro_f1", f1, (gold[known], predicted[known]), options)
    _with_ci(out, "macro_f1_ood_fp", f1, (gold, predicted), options)
    return out


def _ood_stats(in_dist: np.ndarray, score: np.ndarray, opts: AnalyzeOptions) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, stat in (("auroc", rm.auroc), ("aupr", rm.aupr), ("fpr_at_95tpr", rm.fpr_at_tpr)):
        _with_ci(out, name, stat, (in_dist, score), opts)
    return out if not math.isnan(out["auroc"]) else {}


def _calibration(route: pd.DataFrame, correct: pd.Series) -> dict[str, Any] | None:
    """Reliability over queries with a gold domain and a confidence; None without any."""
    if "confidence" not in route.columns:
        return None
    use = route["gold"].notna() & route["confidence"].notna()
    if not use.any():
        return None
    return rm.reliability(route.loc[use, "confidence"].to_numpy(float), correct[use].to_numpy())


def _oracle_gap(frames: dict[str, pd.DataFrame], options: AnalyzeOptions) -> dict[str, Any]:
    """Attribution of the routed-vs-oracle QA gap; {'note': why} when it cannot be computed."""
    qa = frames.get("qa")
    if qa is None or qa.empty:
        return {"note": "no qa records"}
    settings = options.extra.get(PLUGIN) or {}
    routed = settings.get("routed_arm") or default_routed_arm(qa)
    oracle = str(settings.get("oracle_arm", "oracle"))
    arms = set(qa["arm"])
    if routed is None or routed not in arms or oracle not in arms:
        return {
            "note": f"needs a routed arm ({routed or 'none found'}) and an oracle arm ({oracle}) "
            "among the qa arms; set options.router.routed_arm / oracle_arm"
        }
    pairs = paired_items(qa, routed, oracle)
    if pairs.empty:
        return {"note": f"arms {routed} and {oracle} share no items"}
    return {
        "routed_arm": routed,
        "oracle_arm": oracle,
        "stats": attribution(pairs, options),
        "items": listed_items(pairs),
    }


def analyze_router(frames: dict[str, pd.DataFrame], options: AnalyzeOptions) -> AnalysisResult:
    """Every router number from the `route` frame (and the `qa` frame for the oracle gap)."""
    route = frames["route"]
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
    f1 = _f1_stats(route, options)
    put_metrics(metrics, (PLUGIN, "overall"), {**overall, **f1})
    score, in_dist = route["score"].to_numpy(float), route["gold"].notna().to_numpy()
    ood = _ood_stats(in_dist, score, options)
    put_metrics(metrics, (PLUGIN, "ood"), ood)
    calibration = _calibration(route, correct)
    if calibration is not None:
        put_metrics(metrics, (PLUGIN, "calibration"), {"ece": calibration["ece"]})
    selective = (
        rm.risk_coverage(score[in_dist], correct.to_numpy()[in_dist]) if in_dist.any() else None
    )
    if selective is not None:
        put_metrics(metrics, (PLUGIN, "selective"), {"aurc": selective["aurc"]})
    target = float((options.extra.get(PLUGIN) or {}).get("target_ood_fpr", DEFAULT_TARGET_OOD_FPR))
    recommended = rm.recommended_threshold(score, ~in_dist, target)
    if not math.isnan(recommended):
        put_metrics(metrics, (PLUGIN, "threshold"), {"recommended": recommended})
    right = (_top_domain(route) == route["gold"]).to_numpy()
    gap = _oracle_gap(frames, options)
    if "stats" in gap:
        put_metrics(metrics, (PLUGIN, "oracle_gap"), gap["stats"])
    details = {
        "rows": rows,
        "overall": overall,
        "macro_f1": f1["macro_f1"],
        "f1": f1,
        "auroc": ood.get("auroc", math.nan),
        "ood": ood,
        "confusion": _confusion(route),
        "curve": _coverage_curve(score, correct.to_numpy()),
        "calibration": calibration,
        "selective": selective,
        "threshold": {
            "target_ood_fpr": target,
            "recommended": recommended,
            "sweep": rm.threshold_sweep(score, in_dist, right),
        },
        "oracle_gap": gap,
    }
    boot = f"percentile bootstrap over queries, {DEFAULT_RESAMPLES} resamples, seed {options.seed}"
    methods = {
        **ci_methods(options),
        "f1": "macro (sklearn), items with a gold domain; _ood_fp: OOD routed = false positive",
        "auroc": "roc_auc_score of score, in-distribution (gold known) positive",
        "aupr": "average_precision_score, in-distribution positive",
        "fpr_at_95tpr": "FPR at the first roc_curve threshold with TPR >= 0.95",
        "ece": f"{rm.ECE_BINS} equal-width confidence bins, queries with a gold domain",
        "aurc": "mean misroute rate of the top-k by score, k = 1..N, queries with a gold domain",
        "bootstrap": boot,
        "oracle_gap": f"paired items; {boot.replace('queries', 'items')}; McNemar "
        f"{options.mcnemar_method}",
    }
    return AnalysisResult(metrics, details, methods, metric_info=router_info(metrics, methods))
