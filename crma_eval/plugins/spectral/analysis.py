"""Spectral-norm invariant: how far each CRMA mixing matrix's norm strays from 1."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import InputError, put_metrics
from crma_eval.api import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.spectral.catalogue import spectral_info

PLUGIN = "spectral"
DEFAULT_TOLERANCE = 1e-6
MAX_POINTS = 4000


def tolerance(options: AnalyzeOptions) -> float:
    """The `spectral_tolerance` option (`options.spectral` of a run config, default 1e-6)."""
    own = options.extra.get(PLUGIN) or {}
    value = own.get(
        "spectral_tolerance", options.extra.get("spectral_tolerance", DEFAULT_TOLERANCE)
    )
    try:
        tol = float(value)
    except (TypeError, ValueError):
        tol = math.nan
    if not tol >= 0 or isinstance(value, bool):
        raise InputError(
            f"must be a non-negative number, got {value!r}", field="spectral_tolerance"
        )
    return tol


def _summaries(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group (keys, in order of appearance): n matrices, max deviation, count over
    tolerance, and from the training log's records only (not the checkpoint's own
    measurement): the number of distinct logged steps and their first and last step (None
    when the group has no logged record)."""
    table = (
        frame.groupby(keys, sort=False)
        .agg(n=("dev", "size"), max_dev=("dev", "max"), n_over_tol=("over", "sum"))
        .reset_index()
    )
    logged = (
        frame[frame["logged"]]
        .groupby(keys, sort=False)
        .agg(
            logged_steps=("step", "nunique"),
            first_step=("step", "min"),
            last_step=("step", "max"),
        )
        .reset_index()
    )
    table = table.merge(logged, on=keys, how="left")
    table["logged_steps"] = table["logged_steps"].fillna(0).astype(int)
    for column in ("first_step", "last_step"):
        values = [None if pd.isna(v) else int(v) for v in table[column]]
        table[column] = pd.Series(values, index=table.index, dtype=object)
    return table


def _logged(spectral: pd.DataFrame) -> pd.Series:
    """True for records of a training log; False for a checkpoint's own measurement (source
    `checkpoint`, whose step is the manifest's or 0, not a logged step)."""
    if "source" not in spectral.columns:
        return pd.Series(True, index=spectral.index)
    return spectral["source"].astype(object).ne("checkpoint")


def _series(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Deviation vs step per (module, phase), thinned to the largest deviation per step bin."""
    groups = frame.groupby(["module", "phase"], sort=False)
    per_series = max(20, MAX_POINTS // max(1, groups.ngroups))
    series = []
    for (module, phase), g in groups:
        g = g.sort_values("step", kind="stable")
        if len(g) > per_series:
            bins = np.arange(len(g)) * per_series // len(g)
            g = g.loc[g.groupby(bins)["dev"].idxmax()]
        series.append(
            {"module": module, "phase": phase, "step": g["step"].tolist(), "dev": g["dev"].tolist()}
        )
    return series


def _max_errors(spectral: pd.DataFrame) -> dict[str, float]:
    """Largest row/column sum errors of the doubly stochastic matrices, where recorded."""
    out = {}
    for column in ("row_sum_err", "col_sum_err"):
        if column in spectral.columns and spectral[column].notna().any():
            out[f"max_{column}"] = float(spectral[column].max())
    return out


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in table.to_dict("records")
    ]


def analyze_spectral(spectral: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult:
    """Per module, per module and phase, and overall: n, max |norm - 1|, steps over tolerance."""
    tol = tolerance(options)
    dev = (spectral["spectral_norm"].astype(float) - 1.0).abs()
    frame = pd.DataFrame(
        {
            "module": spectral["module"],
            "phase": spectral["phase"],
            "step": spectral["step"],
            "dev": dev,
            "over": dev > tol,
            "logged": _logged(spectral),
        }
    )
    steps = frame.loc[frame["logged"], "step"]
    overall = {
        "n": int(dev.size),
        "logged_steps": int(steps.nunique()),
        "max_dev": float(dev.max()),
        "n_over_tol": int((dev > tol).sum()),
        **_max_errors(spectral),
    }
    modules = _summaries(frame, ["module"])
    phases = _summaries(frame, ["module", "phase"])
    stats = ["n", "max_dev", "n_over_tol"]
    metrics: dict[str, float] = {}
    put_metrics(metrics, (PLUGIN, "all"), {k: v for k, v in overall.items() if k != "logged_steps"})
    for row in modules.itertuples(index=False):
        put_metrics(metrics, (PLUGIN, row.module), {s: getattr(row, s) for s in stats})
    for row in phases.itertuples(index=False):
        put_metrics(metrics, (PLUGIN, row.module, row.phase), {s: getattr(row, s) for s in stats})
    details = {
        "tolerance": tol,
        "overall": overall,
        "modules": _rows(modules),
        "phases": _rows(phases),
        "series": _series(frame),
    }
    methods = {
        "deviation": "|spectral_norm - 1|",
        "unit": "one measured mixing matrix (module, phase, step)",
        "tolerance": repr(tol),
        "steps": "logged steps: distinct steps of the training log's records (a checkpoint's "
        "own measurement is a matrix, not a logged step); n counts every measured matrix",
    }
    return AnalysisResult(metrics, details, methods, metric_info=spectral_info(metrics))
