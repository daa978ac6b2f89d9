"""Router stress-suite numbers: accuracy per category, macro F1 (two ways), OOD detection with
bootstrap intervals, calibration, selective routing, threshold sweep and the oracle gap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import (
    CLUSTERED_METHOD,
    DEFAULT_RESAMPLES,
    InputError,
    ci_methods,
    clustered_proportion,
    first_row,
    proportion,
    put_metrics,
    rows_bootstrap_ci,
    where,
)
from crma_eval.api import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.router import metrics as rm
from crma_eval.plugins.router.catalogue import router_info
from crma_eval.plugins.router.oracle_gap import (
    attribution,
    default_routed_arm,
    listed_items,
    paired_items,
)
from crma_eval.plugins.router.records import ROUTE_CATEGORIES
from crma_eval.plugins.router.units import SEVERAL, SINGLE, Units, query_units

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
    """Selective accuracy when answering only the top-scored share of queries (score desc;
    tied scores averaged over their orders, so record order does not matter)."""
    ordered, hits = rm.tie_averaged_cumsum(scores, correct)
    taken = np.arange(1, scores.size + 1)
    pick = np.unique(np.linspace(0, scores.size - 1, min(CURVE_POINTS, scores.size)).astype(int))
    return {
        "coverage": (taken[pick] / scores.size).tolist(),
        "accuracy": (hits[pick] / taken[pick]).tolist(),
        "threshold": ordered[pick].tolist(),
    }


class _Boot:
    """Bootstrap settings of one analysis: options, query clusters (None: rows are queries) and
    the number of resamples skipped per statistic (undefined on them, e.g. a class missing)."""

    def __init__(self, options: AnalyzeOptions, clusters: np.ndarray | None) -> None:
        self.options, self.clusters = options, clusters
        self.skipped: dict[str, int] = {}

    def put(
        self,
        metrics: dict[str, float],
        name: str,
        stat: Any,
        arrays: tuple[np.ndarray, ...],
        rows: np.ndarray | None = None,
    ) -> None:
        """metrics[name] = stat(*arrays) and, when defined, its percentile bootstrap interval
        (rows: the mask that selected `arrays` from the frame, to select the clusters)."""
        metrics[name] = stat(*arrays)
        if math.isnan(metrics[name]) or len(arrays[0]) < 2:
            return
        clusters = self.clusters
        if clusters is not None and rows is not None:
            clusters = clusters[rows]
        opts = self.options
        ci = rows_bootstrap_ci(stat, arrays, opts.confidence, seed=opts.seed, clusters=clusters)
        metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = ci.low, ci.high
        self.skipped[name] = ci.skipped


def _f1_stats(route: pd.DataFrame, boot: _Boot) -> dict[str, float]:
    """macro_f1 (queries with a gold domain) and macro_f1_ood_fp (all queries: an OOD query
    routed to a domain is a false positive of that domain), over the gold domains.

    A bootstrap resample lacking one of the gold domains has an undefined macro F1 over them
    (not F1 = 0 for the missing domain): it is skipped and counted."""
    gold = route["gold"].fillna(NONE).to_numpy(object)
    predicted = effective_prediction(route).fillna(NONE).to_numpy(object)
    known = gold != NONE
    labels = sorted(set(gold[known]))

    def f1(g: np.ndarray, p: np.ndarray) -> float:
        if not np.isin(np.asarray(labels, dtype=object), g).all():
            return math.nan
        return rm.macro_f1(g, p, labels)

    out: dict[str, float] = {}
    boot.put(out, "macro_f1", f1, (gold[known], predicted[known]), known)
    boot.put(out, "macro_f1_ood_fp", f1, (gold, predicted))
    return out


def _ood_stats(in_dist: np.ndarray, score: np.ndarray, boot: _Boot) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, stat in (("auroc", rm.auroc), ("aupr", rm.aupr), ("fpr_at_95tpr", rm.fpr_at_tpr)):
        boot.put(out, name, stat, (in_dist, score))
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
    stats, method = attribution(pairs, options)
    return {
        "routed_arm": routed,
        "oracle_arm": oracle,
        "stats": stats,
        "method": method,
        "items": listed_items(pairs),
    }


def _accuracy(
    correct: pd.Series, mask: pd.Series, units: Units, options: AnalyzeOptions
) -> dict[str, float]:
    """k, n (queries), accuracy and interval of the selected rows; with several routers the
    pooled accuracy over decisions, n = distinct queries, k = accuracy * n, item-clustered CI."""
    if units.clusters is None:
        return proportion(int(correct[mask].sum()), int(mask.sum()), options)
    picked = mask.to_numpy()
    res = clustered_proportion(correct[mask].to_numpy(), units.clusters[picked], options.confidence)
    return {
        "k": res.estimate * res.n_items,
        "n": res.n_items,
        "accuracy": res.estimate,
        "ci_low": res.low,
        "ci_high": res.high,
        "n_observations": res.n_observations,
        "design_effect": res.design_effect,
        "n_effective": res.n_effective,
    }


def _category_rows(
    route: pd.DataFrame, correct: pd.Series, units: Units, options: AnalyzeOptions
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """One accuracy row per stress category present, and the overall accuracy."""
    rows = [
        {"category": category, **_accuracy(correct, route["category"] == category, units, options)}
        for category in ROUTE_CATEGORIES
        if (route["category"] == category).any()
    ]
    return rows, _accuracy(correct, pd.Series(True, index=route.index), units, options)


def _per_checkpoint(
    route: pd.DataFrame, correct: pd.Series, units: Units, options: AnalyzeOptions
) -> list[dict[str, Any]]:
    """Per checkpoint (several routers only): its own category rows and overall accuracy, each
    query once (plain proportion interval)."""
    if units.mode != SEVERAL or "checkpoint" not in route.columns:
        return []
    out = []
    for checkpoint in units.checkpoints:
        mine = route["checkpoint"].astype(str) == checkpoint
        single = Units(route[mine], SINGLE, int(mine.sum()), int(mine.sum()), [], None)
        rows, overall = _category_rows(route[mine], correct[mine], single, options)
        out.append({"checkpoint": checkpoint, "rows": rows, "overall": overall})
    return out


def _put_accuracy(
    metrics: dict[str, float],
    rows: list[dict[str, Any]],
    overall: dict[str, float],
    suffix: tuple[str, ...] = (),
) -> None:
    for row in rows:
        stats = {k: v for k, v in row.items() if k != "category"}
        put_metrics(metrics, (PLUGIN, row["category"], *suffix), stats)
    put_metrics(metrics, (PLUGIN, "overall", *suffix), overall)


def analyze_router(frames: dict[str, pd.DataFrame], options: AnalyzeOptions) -> AnalysisResult:
    """Every router number from the `route` frame (and the `qa` frame for the oracle gap).

    The unit of analysis is the query (plugins.router.units): a query routed for several
    checkpoints by one shared router counts once; with several routers intervals are clustered
    by query and each checkpoint gets rows `router.<category>.checkpoint_<id>.*`.
    """
    units = query_units(frames["route"])
    route = units.frame
    correct = correctness(route)
    boot = _Boot(options, units.clusters)
    metrics: dict[str, float] = {}
    rows, overall = _category_rows(route, correct, units, options)
    f1 = _f1_stats(route, boot)
    _put_accuracy(metrics, rows, {**overall, **f1})
    checkpoints = _per_checkpoint(route, correct, units, options)
    for ck in checkpoints:
        _put_accuracy(metrics, ck["rows"], ck["overall"], (f"checkpoint_{ck['checkpoint']}",))
    score, in_dist = route["score"].to_numpy(float), route["gold"].notna().to_numpy()
    ood = _ood_stats(in_dist, score, boot)
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
        "unit": units.describe(),
        "checkpoints": checkpoints,
        "bootstrap_skipped": boot.skipped,
    }
    over = "queries (whole queries: clustered)" if units.clusters is not None else "queries"
    boot_text = (
        f"percentile bootstrap over {over}, {DEFAULT_RESAMPLES} resamples, seed "
        f"{options.seed}; resamples where a statistic is undefined (a class or gold domain "
        "missing) are skipped, counts in details.bootstrap_skipped"
    )
    methods = {
        **ci_methods(options),
        "unit": units.describe(),
        "f1": "macro (sklearn), items with a gold domain; _ood_fp: OOD routed = false positive",
        "auroc": "roc_auc_score of score, in-distribution (gold known) positive",
        "aupr": "average_precision_score, in-distribution positive",
        "fpr_at_95tpr": "FPR at the first roc_curve threshold with TPR >= 0.95",
        "ece": f"{rm.ECE_BINS} equal-width confidence bins, queries with a gold domain",
        "aurc": "mean misroute rate of the top-k by score, k = 1..N, queries with a gold domain; "
        "tied scores averaged over their orders",
        "bootstrap": boot_text,
        "oracle_gap": gap.get("method", "not computed"),
    }
    if units.clusters is not None:
        methods["ci_repeated"] = CLUSTERED_METHOD
    return AnalysisResult(metrics, details, methods, metric_info=router_info(metrics, methods))
