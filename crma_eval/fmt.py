"""Helpers shared by the built-in analysis plugins: metric maps, source locations, formatting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.naming import metric_name
from crma_eval.values import missing

DASH = "—"


def put_metrics(metrics: dict[str, float], parts: tuple[object, ...], stats: Mapping) -> list[str]:
    """Add `<parts>.<stat>` names for each stat; two names slugging to one metric is bad input.

    Returns the names added (for their metric catalogue entries)."""
    added: list[str] = []
    for stat, value in stats.items():
        name = metric_name(*parts, stat)
        if name in metrics:
            raise InputError(
                f"the names {[str(x) for x in parts if x is not None]} map to the metric "
                f"{name!r}, which another name already produced; rename one of them (names are "
                "slugged: ASCII characters other than letters, digits, '_' and '-' become '_')"
            )
        metrics[name] = float(value)
        added.append(name)
    return added


def where(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `path`/`line` keyword arguments of InputError for one record row."""
    return {"path": row["_file"], "line": int(row["_line"])}


def first_row(frame: pd.DataFrame, mask: Any) -> pd.Series:
    """The first record (in file order) selected by a boolean mask."""
    return frame[mask].iloc[0]


def in_order(values: pd.Series) -> list[Any]:
    """Distinct values in order of first appearance in the records."""
    return list(pd.unique(values))


def proportion(k: int, n: int, options: AnalyzeOptions) -> dict[str, float]:
    """k, n, accuracy and its CI (options.ci_method at options.confidence)."""
    from crma_eval.stats import proportion_ci

    low, high = proportion_ci(int(k), int(n), options.confidence, options.ci_method)
    return {"k": int(k), "n": int(n), "accuracy": k / n, "ci_low": low, "ci_high": high}


def ci_methods(options: AnalyzeOptions) -> dict[str, str]:
    """The `methods` entries describing the proportion intervals."""
    return {"ci": options.ci_method, "confidence": str(options.confidence)}


def ci_caption(methods: Mapping[str, str]) -> str:
    """E.g. 'Wilson score 95% CI', printed beside every interval."""
    from crma_eval.stats import method_label

    level = float(methods.get("confidence", 0.95)) * 100
    return f"{method_label(methods.get('ci', 'wilson'))} {level:g}% CI"


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage string; a dash when missing."""
    return DASH if missing(value) else f"{100 * value:.{digits}f}%"


def num(value: Any, digits: int = 4) -> str:
    """A number to `digits` significant digits; a dash when missing."""
    return DASH if missing(value) else f"{value:.{digits}g}"


def gate_value(value: Any) -> str:
    """A gate value: 6 significant digits, precise enough to see why a bound failed."""
    return num(value, 6)


def signed(value: Any, digits: int = 2, unit: str = "") -> str:
    """A number with explicit sign and fixed decimals (drift style, e.g. '+1.47%')."""
    return DASH if missing(value) else f"{value:+.{digits}f}{unit}"


def pvalue(value: Any) -> str:
    """A p-value: fixed-point down to 0.001, scientific below."""
    if missing(value):
        return DASH
    return f"{value:.3g}" if value >= 1e-3 else f"{value:.2e}"


def interval(low: Any, high: Any) -> str:
    """A percentage interval such as '[93.0%, 99.5%]'."""
    return f"[{pct(low)}, {pct(high)}]"
