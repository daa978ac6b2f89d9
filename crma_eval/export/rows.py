"""The exported form of a run's metrics: one row per metric, with its interval, n and method.

Interval bounds and counts are attached to the metric they belong to, never exported alone:
`<stem>.ci_low`/`.ci_high` (and `<name>_ci_low`/`_ci_high`, e.g. `router.ood.auroc_ci_low`) bound
`<stem>.<stat>`, `<stem>.n` is its n. The method is the plugin's `meta.methods` entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from crma_eval.values import missing

BOUNDS = (".ci_low", ".ci_high", "_ci_low", "_ci_high")


@dataclass(frozen=True)
class MetricRow:
    """One metric of results.json: name, value and (None when the run has none) interval and n."""

    name: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int | None
    method: str | None

    @property
    def plugin(self) -> str:
        """The plugin that computed it (the name's first segment)."""
        return self.name.split(".", 1)[0]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or missing(value):
        return None
    return float(value) if math.isfinite(value) else None


def _interval(name: str, metrics: dict[str, Any]) -> tuple[float | None, float | None]:
    stem = name.rsplit(".", 1)[0]
    for low, high in ((f"{name}_ci_low", f"{name}_ci_high"), (f"{stem}.ci_low", f"{stem}.ci_high")):
        if low in metrics or high in metrics:
            return _number(metrics.get(low)), _number(metrics.get(high))
    return None, None


def _method(plugin: str, methods: dict[str, Any]) -> str | None:
    entry = methods.get(plugin)
    if isinstance(entry, dict):
        return "; ".join(f"{k}: {v}" for k, v in sorted(entry.items())) or None
    return None if entry is None else str(entry)


def metric_rows(results: dict[str, Any]) -> list[MetricRow]:
    """Rows of every finite metric of a results.json object, interval bounds folded in."""
    metrics: dict[str, Any] = results.get("metrics", {})
    methods: dict[str, Any] = results.get("meta", {}).get("methods", {})
    rows = []
    for name, raw in sorted(metrics.items()):
        value = _number(raw)
        if value is None or name.endswith(BOUNDS):
            continue
        low, high = _interval(name, metrics)
        n = _number(metrics.get(f"{name.rsplit('.', 1)[0]}.n"))
        method = _method(name.split(".", 1)[0], methods)
        rows.append(MetricRow(name, value, low, high, None if n is None else int(n), method))
    return rows
