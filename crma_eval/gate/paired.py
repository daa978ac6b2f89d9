"""Paired evidence for baseline comparisons: both runs' per-item records, matched item by item.

Each plugin says how its metrics pair (`Plugin.pairing`): e.g. `qa.<arm>[.<domain>].accuracy`
pairs qa records on (domain, item_id[, seed]), `bench.<task>.<arm>.*` pairs 0/1 bench records on
(task, doc_id, metric, filter). Matched items go into an exact McNemar
test (two-sided). Items present in only one run are an error, never silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from crma_eval.errors import InputError
from crma_eval.naming import slug
from crma_eval.plugins.base import PairSpec
from crma_eval.records import load_records
from crma_eval.registry import plugins
from crma_eval.stats import McNemarResult, mcnemar_from_pairs
from crma_eval.store import RunDir

TEST = "McNemar exact, two-sided"
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Evidence:
    """Result of pairing one metric's items; `test` is None when there is nothing to pair."""

    test: McNemarResult | None
    n_pairs: int = 0
    note: str = "no paired records: threshold only"


class RunRecords:
    """The record frames of one run directory, read on first use."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run = RunDir(run_dir)

    @cached_property
    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per record kind found in RUN_DIR/records (empty if there are none)."""
        files = self.run.record_files()
        return load_records(files) if files else {}


def _plain(value: Any) -> Any:
    """A key part that compares equal across runs (NaN -> None, 1.0 -> 1, text as text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, str)) else str(value)


def _select(frame: pd.DataFrame | None, wanted: dict[str, str]) -> pd.DataFrame:
    """Rows whose fields, slugged as in metric names, equal the metric name's segments."""
    if frame is None or frame.empty:
        return pd.DataFrame()
    mask = pd.Series(True, index=frame.index)
    for column, value in wanted.items():
        mask &= frame[column].map(slug) == value
    return frame[mask]


def _outcomes(rows: pd.DataFrame, keys: list[str], value: str, kind: str) -> dict[tuple, Any]:
    """Map each item's key to its value; a key seen twice cannot be paired and is an error."""
    if rows.empty:
        return {}
    columns = [rows[k] if k in rows.columns else [None] * len(rows) for k in keys]
    found: dict[tuple, Any] = {}
    rows_iter = zip(
        zip(*columns, strict=True), rows[value], rows["_file"], rows["_line"], strict=True
    )
    for raw, outcome, file, line in rows_iter:
        key = tuple(_plain(part) for part in raw)
        if key in found:
            where = ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
            problem = f"several {kind} records for ({where}): cannot pair"
            raise InputError(problem, path=file, line=line)
        found[key] = outcome
    return found


def _describe(keys: list[str], items: list[tuple]) -> str:
    shown = [
        "(" + ", ".join(f"{k}={v}" for k, v in zip(keys, item, strict=True)) + ")"
        for item in sorted(items, key=str)[:MAX_EXAMPLES]
    ]
    more = f" and {len(items) - MAX_EXAMPLES} more" if len(items) > MAX_EXAMPLES else ""
    return "; ".join(shown) + more


def _pair(
    metric: str, keys: list[str], base: dict[tuple, Any], cur: dict[tuple, Any], runs: tuple
) -> Evidence:
    """McNemar on matched items, or an InputError naming the items found in one run only."""
    if not base or not cur:
        lacking = "baseline" if not base else "current run"
        if base or cur:
            return Evidence(None, note=f"no paired records in the {lacking}: threshold only")
        return Evidence(None)
    only_base, only_cur = sorted(base.keys() - cur, key=str), sorted(cur.keys() - base, key=str)
    if only_base or only_cur:
        parts = []
        if only_base:
            parts.append(f"{len(only_base)} only in baseline {_describe(keys, only_base)}")
        if only_cur:
            parts.append(f"{len(only_cur)} only in current run {_describe(keys, only_cur)}")
        problem = f"{metric}: items do not match between runs: " + "; ".join(parts)
        raise InputError(problem, path=runs[1].run.records_dir)
    order = list(base)
    result = mcnemar_from_pairs(
        [bool(base[k]) for k in order], [bool(cur[k]) for k in order], method="exact"
    )
    return Evidence(result, len(order), note=TEST)


def _frame(spec: PairSpec, run: RunRecords) -> pd.DataFrame:
    """The records of one run that a metric's pairing selects."""
    frame = _select(run.frames.get(spec.kind), spec.select)
    return _narrow_to_metric(frame, spec.narrow_metric) if spec.narrow_metric else frame


def _present(keys: tuple[str, ...], frames: list[pd.DataFrame]) -> list[str]:
    """Key fields carried by at least one side (an optional field such as seed may be absent)."""
    return [k for k in keys if any(k in f.columns and f[k].notna().any() for f in frames)]


def _narrow_to_metric(frame: pd.DataFrame, segments: frozenset[str]) -> pd.DataFrame:
    """Keep only the record metric the name mentions (e.g. `acc` in `bench.arc.after.acc`)."""
    if frame.empty:
        return frame
    named = frame["metric"].map(slug).isin(segments)
    return frame[named] if named.any() else frame


def paired_evidence(metric: str, baseline: RunRecords, current: RunRecords) -> Evidence:
    """Paired test of one metric between a baseline and the current run, where records allow.

    The plugin that owns the metric (its name's first segment) says how its items pair
    (`Plugin.pairing`); metrics without such a rule are compared by threshold only.
    """
    plugin = plugins().get(metric.split(".", 1)[0])
    spec = plugin.pairing(metric) if plugin is not None else None
    if spec is None:
        return Evidence(None)
    runs = (baseline, current)
    frames = [_frame(spec, r) for r in runs]
    if any(not f.empty and not f[spec.value].isin([0, 1]).all() for f in frames):
        return Evidence(None, note="per-item values are not 0/1 (no McNemar): threshold only")
    keys = _present(spec.keys, frames)
    base, cur = (_outcomes(f, keys, spec.value, spec.kind) for f in frames)
    return _pair(metric, keys, base, cur, runs)
