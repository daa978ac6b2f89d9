"""The exported form of a run's metrics: one row per metric, with its interval, n and method.

Interval bounds are attached to the metric they belong to, never exported alone. The metric
catalogue (results.json `meta.metric_info`, `crma_eval.api.catalogue`) says which bounds belong to
which estimate (`of`), the n and unit of analysis, and the interval's method; results written
before the catalogue fall back to the names: `<stem>.ci_low`/`.ci_high` (and `<name>_ci_low`/
`_ci_high`) bound `<stem>.<stat>`, `<stem>.n` is its n. `method` is the plugin's `meta.methods`
entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from crma_eval.api.catalogue import MetricInfo, catalogue, interval_label
from crma_eval.values import missing

BOUNDS = (".ci_low", ".ci_high", "_ci_low", "_ci_high")


@dataclass(frozen=True)
class MetricRow:
    """One metric of results.json: name, value and (None when the run has none) interval and n.

    unit: the unit of analysis n counts; interval: how the interval was computed, e.g.
    'Wilson score 95% CI, n = 12 items' (None without an interval)."""

    name: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int | None
    method: str | None
    unit: str | None = None
    interval: str | None = None

    @property
    def plugin(self) -> str:
        """The plugin that computed it (the name's first segment)."""
        return self.name.split(".", 1)[0]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or missing(value):
        return None
    return float(value) if math.isfinite(value) else None


def _named_interval(name: str, metrics: dict[str, Any]) -> tuple[str | None, str | None]:
    stem = name.rsplit(".", 1)[0]
    for low, high in ((f"{name}_ci_low", f"{name}_ci_high"), (f"{stem}.ci_low", f"{stem}.ci_high")):
        if low in metrics or high in metrics:
            return low, high
    return None, None


def _bounds(name: str, info: dict[str, MetricInfo]) -> dict[str, str]:
    """{'low': bound name, 'high': ...} of the bounds the catalogue ties to `name`."""
    return {
        e.bound: m
        for m, e in info.items()
        if e.role == "interval_bound" and e.of == name and e.bound and not e.fallback
    }


def _method(plugin: str, methods: dict[str, Any]) -> str | None:
    entry = methods.get(plugin)
    if isinstance(entry, dict):
        return "; ".join(f"{k}: {v}" for k, v in sorted(entry.items())) or None
    return None if entry is None else str(entry)


def _row(
    name: str, value: float, results: dict[str, Any], info: dict[str, MetricInfo]
) -> MetricRow:
    metrics: dict[str, Any] = results.get("metrics", {})
    methods: dict[str, Any] = results.get("meta", {}).get("methods", {})
    own = info.get(name)
    tied = _bounds(name, info)
    low, high = (tied.get("low"), tied.get("high")) if tied else _named_interval(name, metrics)
    n = own.n if own is not None and own.n is not None else None
    if n is None:
        counted = _number(metrics.get(f"{name.rsplit('.', 1)[0]}.n"))
        n = None if counted is None else int(counted)
    bound = info.get(low or high or "")
    return MetricRow(
        name, value,
        _number(metrics.get(low)) if low else None,
        _number(metrics.get(high)) if high else None,
        n, _method(name.split(".", 1)[0], methods),
        unit=own.unit if own is not None else None,
        interval=interval_label(bound) if (low or high) else None,
    )  # fmt: skip


def metric_rows(results: dict[str, Any]) -> list[MetricRow]:
    """Rows of every finite metric of a results.json object, interval bounds folded in."""
    metrics: dict[str, Any] = results.get("metrics", {})
    info = catalogue(results)
    rows = []
    for name, raw in sorted(metrics.items()):
        value = _number(raw)
        entry = info.get(name)
        is_bound = entry is not None and entry.role == "interval_bound"
        if value is None or is_bound or name.endswith(BOUNDS):
            continue
        rows.append(_row(name, value, results, info))
    return rows
