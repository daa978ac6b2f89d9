"""Catalogue entries (crma_eval.api.catalogue) of the bench plugin's metrics: documents are the
unit; a score's interval method is the one its values got (proportion CI for 0/1 scores)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from crma_eval import metric_name
from crma_eval.api import MetricInfo, describe
from crma_eval.api.catalogue import SCALES
from crma_eval.plugins.bench.continuous import BITS_METRICS, PERPLEXITY_METRICS

PLUGIN = "bench"


def _scale(row: dict[str, Any]) -> str:
    """A score's scale: from the metric's definition (crma_eval.plugins.bench.scales)."""
    metric = row["metric"]
    if metric in PERPLEXITY_METRICS:
        return "perplexity"
    if metric in BITS_METRICS:
        return "bits per byte"
    scale = str(row.get("scale", "fraction"))
    return scale if scale in SCALES else "metric units"  # "unknown": the metric's own units


def _estimate(delta: dict[str, Any]) -> tuple[str, str]:
    """(the delta's estimate stat, its scale)."""
    if "ratio" in delta:
        return "ratio", "ratio"
    if "delta" in delta:
        return "delta", str(delta.get("unit", "bits"))
    return "delta_pp", "percentage points"


def _estimator(delta: dict[str, Any]) -> str:
    """How a delta's estimate was computed: a perplexity ratio or bits difference from Σ over
    documents is a ratio estimator (continuous.ratio_t), never a mean of per-document values."""
    method = str(delta.get("method", ""))
    if "ratio" in delta:
        return "ratio estimator exp(Σ(−ll after + ll base) / Σweight) (corpus perplexity ratio)"
    if "ratio estimator" in method:
        return "ratio estimator Σ(−ll after + ll base) / Σweight / ln 2 (bits per byte)"
    if method.startswith("stratified"):
        return "stratified paired difference (equal weight per subtask)"
    return "mean of per-document paired differences"


def bench_info(
    metrics: dict[str, float],
    details: dict[str, Any],
    confidence: float,
    segments: Callable[[dict[str, Any]], tuple[str | None, ...]],
) -> dict[str, MetricInfo]:
    """Entries of every score (`bench.<task>.<arm>[.<metric>][.<filter>].*`) and delta
    (`bench.<task>.<arm>_vs_<base>[.<metric>][.<filter>].*`) metric, from the analysis details;
    `segments(row)`: the optional name segments of a score or delta row."""
    out: dict[str, MetricInfo] = {}
    for s in details["scores"]:
        prefix = metric_name(PLUGIN, s["task"], s["arm"], *segments(s))
        what = f"mean {s['metric']} of task {s['task']}, arm {s['arm']}, filter {s['filter']}"
        out |= describe(
            metrics, prefix, "score", what, unit="document", n=int(s["n"]),
            method="mean over documents", interval=s.get("interval"), scale=_scale(s),
            confidence=confidence,
        )  # fmt: skip
    for d in details["deltas"]:
        label = f"{d['arm']}_vs_{d['base']}"
        prefix = metric_name(PLUGIN, d["task"], label, *segments(d))
        what = (
            f"paired change of {d['metric']} of task {d['task']}, filter {d['filter']}, "
            f"arm {d['arm']} relative to {d['base']}"
        )
        stat, scale = _estimate(d)
        found = describe(
            metrics, prefix, stat, what, unit="document", n=int(d["n"]), method=_estimator(d),
            interval=d.get("method"), test=d.get("method"), scale=scale, confidence=confidence,
        )  # fmt: skip
        for name, info in found.items():
            if info.role == "adjusted_pvalue":
                method = "holm" if name.endswith("holm") else "benjamini-hochberg"
                found[name] = replace(info, method=f"{method} across tasks")
        out |= found
    return out
