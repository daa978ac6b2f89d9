"""Catalogue entries (crma_eval.api.catalogue) of the cl plugin's metrics.

A metric `cl.<prefix>.<metric>` is the mean over seeds (unit: seed); its `.std` and `.n` describe
that mean; `.seed_<s>` is one seed's value; `.ci_low/.ci_high` are item-cluster bootstrap bounds
(unit: item). Cells `cl.<prefix>.r<i>.<domain>` are seed-averaged accuracies or losses.
"""

from __future__ import annotations

from typing import Any

from crma_eval.api.catalogue import MetricInfo
from crma_eval.plugins.cl.intervals import METHOD


def _scale(series: dict[str, Any], metric: str) -> str:
    """Loss metrics (levels and differences) are in nats per token, accuracy ones fractions."""
    return "nats per token" if series["source"] == "loss" else "fraction"


def _metric(
    series: dict[str, Any], name: str, entry: dict[str, Any], specs: dict[str, Any], conf: float
) -> dict[str, MetricInfo]:
    stem = f"{series['prefix']}.{name}"
    spec = specs.get({"final_loss": "acc", "a_loss": "a"}.get(name, name), {})
    what = (
        f"{name} = {spec.get('formula', name)} ({spec.get('source', '')}) of the "
        f"{series['unit']} matrix of {series['prefix']}"
    )
    n, scale = int(entry["n"]), _scale(series, name)
    out = {
        stem: MetricInfo(
            "estimate", f"{what}, mean over seeds", unit="seed", n=n,
            method="mean over seeds of the per-seed metric", scale=scale,
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
            "estimate", f"{what}, seed {seed}", unit="seed", n=1, scale=scale
        )
    n_items = sum(series.get("n_items", {}).values()) or None
    for side in ("low", "high"):
        out[f"{stem}.ci_{side}"] = MetricInfo(
            "interval_bound", f"{'lower' if side == 'low' else 'upper'} bound of {what}",
            unit="item", n=n_items, method=METHOD, scale=scale, of=stem, bound=side,
            confidence=conf,
        )  # fmt: skip
    return out


def _cells(series: dict[str, Any], conf: float) -> dict[str, MetricInfo]:
    out: dict[str, MetricInfo] = {}
    scale = _scale(series, "cell")
    for r, row in enumerate(series["matrix"]):
        for c, value in enumerate(row):
            if value is None:
                continue
            domain = series["domains"][c]
            stem = f"{series['prefix']}.r{r}.{domain}"
            what = f"R[{r}, {domain}] ({series['unit']} after phase {r}) of {series['prefix']}"
            n = series.get("n_items", {}).get(domain)
            out[stem] = MetricInfo(
                "estimate", f"{what}, mean over seeds", unit="seed", n=len(series["seeds"]),
                method="mean over the domain's items, then over seeds", scale=scale,
            )  # fmt: skip
            for side in ("low", "high"):
                out[f"{stem}.ci_{side}"] = MetricInfo(
                    "interval_bound", f"{side} bound of {what}", unit="item", n=n,
                    method=METHOD, scale=scale, of=stem, bound=side, confidence=conf,
                )  # fmt: skip
    return out


def _attribution(entry: dict[str, Any], conf: float) -> dict[str, MetricInfo]:
    stem = f"cl.{entry['condition']}.attribution"
    words = {
        "shared_drift": "mean of R_oracle[k, j] − R_oracle[j, j] over k > j (shared-module drift)",
        "routing_error": "mean of R_routed − R_oracle over cells j ≤ i (routing error)",
    }
    out: dict[str, MetricInfo] = {}
    for name, what in words.items():
        out[f"{stem}.{name}"] = MetricInfo(
            "estimate", what, unit="seed", method="mean over seeds and cells", scale="fraction"
        )
        for side in ("low", "high"):
            out[f"{stem}.{name}_ci_{side}"] = MetricInfo(
                "interval_bound", f"{side} bound of {what}", unit="item", method=METHOD,
                scale="fraction", of=f"{stem}.{name}", bound=side, confidence=conf,
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
