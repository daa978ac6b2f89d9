"""Catalogue entries (crma_eval.api.catalogue) of the bench plugin's metrics: documents are the
unit; a score's interval method is the one its values got (proportion CI for 0/1 scores)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from crma_eval import metric_name
from crma_eval.api import MetricInfo, describe
from crma_eval.api.catalogue import SCALES
from crma_eval.plugins.bench.continuous import BITS_METRICS, UNBOUNDED
from crma_eval.plugins.bench.scales import FRACTION, POINTS

PLUGIN = "bench"
# lm-eval metrics where a lower value is better (lm_eval/api/metrics.py registrations:
# perplexities, bits per byte, TER, Brier score); the other known metrics are higher-is-better.
LOWER_IS_BETTER: frozenset[str] = UNBOUNDED | {"ter", "brier_score"}
HIGHER_IS_BETTER: frozenset[str] = (FRACTION | POINTS) - LOWER_IS_BETTER


def _scale(row: dict[str, Any]) -> str:
    """A score's scale: from the metric's definition (crma_eval.plugins.bench.scales)."""
    if row.get("scale") == "unbounded" or row["metric"] in UNBOUNDED:  # older rows: no scale
        return "bits per byte" if row["metric"] in BITS_METRICS else "perplexity"
    scale = str(row.get("scale", "fraction"))
    return scale if scale in SCALES else "metric units"  # "unknown": the metric's own units


def direction(row: dict[str, Any]) -> str | None:
    """Which value of a score (and of its change) is better: lm-eval's own `higher_is_better`
    of the metric where the records carry it, else from the metric's name; None when unknown."""
    flag = row.get("higher_is_better")
    if isinstance(flag, bool):
        return "higher" if flag else "lower"
    metric = row["metric"]
    if metric in LOWER_IS_BETTER:
        return "lower"
    return "higher" if metric in HIGHER_IS_BETTER else None


def _score_method(row: dict[str, Any]) -> str:
    """How a score aggregates its documents."""
    if _scale(row) == "perplexity":
        return "corpus perplexity exp(-Σll/Σweight) (lm-eval's aggregation)"
    if _scale(row) == "bits per byte":
        return "-Σll/Σbytes/ln 2 (lm-eval's bits_per_byte)"
    return "mean over documents"


def _delta_method(delta: dict[str, Any]) -> str:
    """How a delta is estimated: a ratio estimator for log-likelihood metrics, else a mean."""
    if "ratio" in delta:
        return "ratio estimator: ratio of the arms' corpus perplexities, exp(Σ(ll_b-ll_a)/Σw)"
    if delta.get("scale") == "unbounded" or delta["metric"] in UNBOUNDED:
        return "ratio estimator: difference of the arms' bits per byte, Σ(ll_b-ll_a)/Σw/ln 2"
    if str(delta.get("method", "")).startswith("stratified"):
        return "stratified paired difference (equal weight per subtask)"
    return "mean of per-document paired differences"


def _estimate(delta: dict[str, Any]) -> tuple[str, str]:
    """(the delta's estimate stat, its scale)."""
    if "ratio" in delta:
        return "ratio", "ratio"
    if "delta" in delta:
        return "delta", str(delta.get("unit", "bits"))
    return "delta_pp", "percentage points"


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
            method=_score_method(s), interval=s.get("interval"), scale=_scale(s),
            confidence=confidence, direction=direction(s),
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
            metrics, prefix, stat, what, unit="document", n=int(d["n"]), method=_delta_method(d),
            interval=d.get("method"), test=d.get("method"), scale=scale, confidence=confidence,
            direction=direction(d),  # a ratio or difference of the score: the score's direction
        )  # fmt: skip
        for name, info in found.items():
            if info.role == "adjusted_pvalue":
                method = "holm" if name.endswith("holm") else "benjamini-hochberg"
                found[name] = replace(info, method=f"{method} across tasks")
        out |= found
    return out
