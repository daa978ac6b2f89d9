"""Range checks of bench record values, by the scale of each record's metric (scales.py).

What a record's `value` can be follows from its metric's scale, never from its name alone:
- fraction: a proportion in [0, 1]; percent: in [0, 100];
- unbounded (lm-eval's log-likelihood metrics): the document's log-likelihood, <= 0; the rolling
  metrics (word/byte perplexity, bits per byte) also carry lm-eval's words or bytes as `weight`;
  records of one task and metric carry a weight all or none;
- a `weight`, when present on any metric's record, is a count >= 1;
- points, unknown: any finite number.
Every value and weight must be finite (record files refuse NaN/inf when read; records built in
code are checked here too). A violation is an InputError naming the record's file, line and field
and what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import InputError
from crma_eval.plugins.bench.continuous import ROLLING
from crma_eval.plugins.bench.scales import metric_scale

# the bounds of one record's value per scale (None: any finite number)
VALUE_RANGE: dict[str, tuple[float, float] | None] = {
    "fraction": (0.0, 1.0),
    "percent": (0.0, 100.0),
    "points": None,
    "unbounded": (-np.inf, 0.0),
    "unknown": None,
}
RULE = {
    "fraction": "outside [0, 1] (fraction scale: a proportion); if this metric is on 0-100 set "
    "options.bench.scales.{metric}: percent, else fix or recollect the record",
    "percent": "outside [0, 100] (percent scale); fix the record or options.bench.scales.{metric}",
    "unbounded": "above 0 (a log-likelihood metric's value is lm-eval's per-document "
    "log-likelihood, <= 0); fix or recollect the record (crma-eval run)",
}
WEIGHT_STEP = (
    "rolling log-likelihood records carry lm-eval's (loglikelihood, words or bytes) item as "
    "value and weight, a count >= 1; fix or recollect the record (crma-eval run)"
)


def location(row: Mapping[str, Any]) -> dict[str, Any]:
    """The InputError keywords (path, line) of a record row from a record file."""
    path, line = row.get("_file"), row.get("_line")
    return {
        "path": None if path is None or pd.isna(path) else str(path),
        "line": None if line is None or pd.isna(line) else int(line),
    }


def _fail(frame: pd.DataFrame, bad: np.ndarray, field: str, problem: str) -> None:
    """InputError at the first record flagged in `bad` (problem formatted with the row)."""
    if not bad.any():
        return
    row = frame.iloc[int(np.flatnonzero(bad)[0])].to_dict()
    shown: dict[str, Any] = {k: str(row.get(k)) for k in ("task", "arm", "metric")}
    shown |= {k: _number(row.get(k)) for k in ("value", "weight")}
    text = problem.format(**shown)
    raise InputError(text, field=field, **location(row))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _finite(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column as floats (NaN where absent)."""
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(float)


def check_records(frame: pd.DataFrame, scales: Mapping[str, str] | None = None) -> None:
    """Raise InputError at the first bench record whose value or weight its scale rules out."""
    values = _finite(frame, "value")
    weights = _finite(frame, "weight")
    has_weight = frame["weight"].notna().to_numpy() if "weight" in frame else np.zeros(len(frame))
    where = "task {task!r} metric {metric!r} arm {arm!r}: "
    _fail(frame, ~np.isfinite(values), "value", where + "value {value:g} is not a finite number; "
          "fix or leave out the record")  # fmt: skip
    _fail(frame, has_weight.astype(bool) & ~np.isfinite(weights), "weight",
          where + "weight {weight:g} is not a finite number; " + WEIGHT_STEP)  # fmt: skip
    metrics = frame["metric"].astype(str)
    scale = metrics.map(lambda m: metric_scale(m, scales)).to_numpy()
    for name, bounds in VALUE_RANGE.items():
        if bounds is None:
            continue
        outside = (scale == name) & ((values < bounds[0]) | (values > bounds[1]))
        _fail(frame, outside, "value", where + "value {value:g} is " + RULE[name])
    rolling = (scale == "unbounded") & metrics.isin(ROLLING).to_numpy()
    _fail(frame, rolling & ~has_weight.astype(bool), "weight",
          where + "weight missing; " + WEIGHT_STEP)  # fmt: skip
    _fail(frame, has_weight.astype(bool) & (weights < 1), "weight",
          where + "weight {weight:g} is below 1 (a weight, on any metric, counts words or bytes); "
          + WEIGHT_STEP)  # fmt: skip
    _all_or_none(frame, has_weight.astype(bool), scale == "unbounded")


def _all_or_none(frame: pd.DataFrame, has_weight: np.ndarray, unbounded: np.ndarray) -> None:
    """Within one task and metric of the log-likelihood scale, every record has a weight or none
    has (a corpus score cannot mix weighted and unweighted documents)."""
    keys = frame["task"].astype(str) + "\x00" + frame["metric"].astype(str)
    weighted = pd.Series(has_weight, index=frame.index).groupby(keys.to_numpy()).transform("any")
    _fail(frame, unbounded & weighted.to_numpy() & ~has_weight, "weight",
          "task {task!r} metric {metric!r} arm {arm!r}: weight missing while other records of "
          "this task and metric carry one; give every record its words/bytes or none")  # fmt: skip
