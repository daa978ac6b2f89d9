"""Catalogue entries (crma_eval.api.catalogue) of the cl plugin's metrics.

A metric `cl.<prefix>.<metric>` is the mean over seeds (unit: seed); its `.std` and `.n` describe
that mean; `.seed_<s>` is one seed's value; `.ci_low/.ci_high` are item-cluster bootstrap bounds
(unit: item). Cells `cl.<prefix>.r<i>.<domain>` are seed-averaged accuracies or losses.
Directions: the formulas run on the oriented matrix (crma_eval.plugins.cl.metrics.oriented, a loss
negated), so BWT, FWT and REM are higher-is-better and forgetting and intransigence
lower-is-better for both sources; levels (ACC, A, cells) are higher-is-better for accuracy and
lower-is-better for a loss (`final_loss`, `a_loss`).
"""

from __future__ import annotations

from typing import Any

from crma_eval import metric_name
from crma_eval.api.catalogue import MetricInfo
from crma_eval.plugins.cl.intervals import METHOD

# Differences that are worse when larger (on the oriented matrix); every other metric is a
# higher-is-better score or difference, except the levels of a loss matrix.
LOWER_IS_BETTER = frozenset({"forgetting", "forgetting_avalanche", "intransigence"})
LOSS_LEVELS = frozenset({"final_loss", "a_loss"})


def _stem(series: dict[str, Any], *parts: object) -> str:
    """The metric name `_put` (crma_eval.plugins.cl.analysis) writes: every segment slugged."""
    return metric_name(*series["prefix"].split("."), *parts)


def _scale(series: dict[str, Any], metric: str) -> str:
    """Loss metrics (levels and differences) are in nats per token, accuracy ones fractions."""
    return "nats per token" if series["source"] == "loss" else "fraction"


def direction(series: dict[str, Any], metric: str) -> str:
    """Which value of a cl metric is better; `metric` "cell" for a matrix cell."""
    if metric in LOWER_IS_BETTER or metric in LOSS_LEVELS:
        return "lower"
    return "lower" if metric == "cell" and series["source"] == "loss" else "higher"


def _metric(
    series: dict[str, Any], name: str, entry: dict[str, Any], specs: dict[str, Any], conf: float
) -> dict[str, MetricInfo]:
    stem = _stem(series, name)
    spec = specs.get({"final_loss": "acc", "a_loss": "a"}.get(name, name), {})
    what = (
        f"{name} = {spec.get('formula', name)} ({spec.get('source', '')}) of the "
        f"{series['unit']} matrix of {series['prefix']}"
    )
    n, scale, better = int(entry["n"]), _scale(series, name), direction(series, name)
    out = {
        stem: MetricInfo(
            "estimate", f"{what}, mean over seeds", unit="seed", n=n,
            method="mean over seeds of the per-seed metric", scale=scale, direction=better,
        ),
        f"{stem}.std": MetricInfo(
            "dispersion", f"sample sd (ddof=1) across seeds of {what}", unit="seed", n=n,
            scale=scale, of=stem,
        ),
        f"{stem}.n": MetricInfo(
            "count", f"seeds ({what})", unit="seed", n=n, scale="count", of=stem
        ),
    }  # fmt: skip
    for seed in entry["seeds"]:
        out[f"{stem}.seed_{seed}"] = MetricInfo(
            "estimate", f"{what}, seed {seed}", unit="seed", n=1, scale=scale, direction=better
        )
    n_items = sum(series.get("n_items", {}).values()) or None
    for side in ("low", "high"):
        out[f"{stem}.ci_{side}"] = MetricInfo(
            "interval_bound", f"{'lower' if side == 'low' else 'upper'} bound of {what}",
            unit="item", n=n_items, method=METHOD, scale=scale, of=stem, bound=side,
            confidence=conf, direction=better,
        )  # fmt: skip
    return out


def _cells(series: dict[str, Any], conf: float) -> dict[str, MetricInfo]:
    out: dict[str, MetricInfo] = {}
    scale, better = _scale(series, "cell"), direction(series, "cell")
    for r, row in enumerate(series["matrix"]):
        for c, value in enumerate(row):
            if value is None:
                continue
            domain = series["domains"][c]
            stem = _stem(series, f"r{r}", domain)
            what = f"R[{r}, {domain}] ({series['unit']} after phase {r}) of {series['prefix']}"
            n = series.get("n_items", {}).get(domain)
            out[stem] = MetricInfo(
                "estimate", f"{what}, mean over seeds", unit="seed", n=len(series["seeds"]),
                method="mean over the domain's items, then over seeds", scale=scale,
                direction=better,
            )  # fmt: skip
            for side in ("low", "high"):
                out[f"{stem}.ci_{side}"] = MetricInfo(
                    "interval_bound", f"{side} bound of {what}", unit="item", n=n,
                    method=METHOD, scale=scale, of=stem, bound=side, confidence=conf,
                    direction=better,
                )  # fmt: skip
    return out


def _attribution(entry: dict[str, Any], conf: float) -> dict[str, MetricInfo]:
    stem = metric_name("cl", entry["condition"], "attribution")
    words = {
        "shared_drift": "mean of R_oracle[k, j] − R_oracle[j, j] over k > j (shared-module drift)",
        "routing_error": "mean of R_routed − R_oracle over cells j ≤ i (routing error)",
    }
    out: dict[str, MetricInfo] = {}
    for name, what in words.items():
        out[f"{stem}.{name}"] = MetricInfo(
            "estimate",
            what,
            unit="seed",
            method="mean over seeds and cells",
            scale="fraction",
            direction="higher",  # R differences: negative = accuracy lost
        )
        for side in ("low", "high"):
            out[f"{stem}.{name}_ci_{side}"] = MetricInfo(
                "interval_bound", f"{side} bound of {what}", unit="item", method=METHOD,
                scale="fraction", of=f"{stem}.{name}", bound=side, confidence=conf,
                direction="higher",
            )  # fmt: skip
    return out


def cl_info(metrics: dict[str, float], details: dict[str, Any]) -> dict[str, MetricInfo]:
    """An entry for every metric the cl analysis wrote (those it did not write are dropped)."""
    conf = float(details.get("confidence", 0.95))
    out: dict[str, MetricInfo] = {}
    for series in details.get("series", []):
        for name, entry in series["metrics"].items():
            out |= _metric(series, name, entry, details.get("specs", {}), conf)
        out |= _cells(series, conf)
    for entry in details.get("attribution", []):
        out |= _attribution(entry, conf)
    return {k: v for k, v in out.items() if k in metrics}
