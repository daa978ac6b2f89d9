"""Paired evidence between two runs (`gate --baseline`, `compare`): per-item records, matched.

The plugin owning a metric says which records it covers (`Plugin.pairing`: e.g.
`qa.<arm>[.<condition>][.<domain>].accuracy` qa records, `bench.<task>.<arm>.*` 0/1 bench
records); crma_eval.pairing matches them (every key both runs carry; the checkpoint is dropped
when the runs' ids differ and the rest is unambiguous). Items answered once: exact McNemar
(two-sided). Items answered several times (seeds, checkpoints): exact sign-flip permutation
test on per-item totals of the differences, b and c counting items. Graded (non-0/1) values, on
request (`compare`, `gate --baseline`): paired t on per-document differences (each document's
mean over its seeds and checkpoints), the exact sign-flip test when those are essentially
constant (the bench plugin's rule, crma_eval.plugins.bench.continuous.paired_t); b and c then
count documents scoring higher in the baseline / in the current run. Unmatched or ambiguous
items are an error (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crma_eval.api.registry import plugins
from crma_eval.errors import InputError
from crma_eval.pairing import item_clusters, pair, repeats_items
from crma_eval.records import load_records
from crma_eval.stats import essentially_constant, mcnemar_from_pairs, paired_t, sign_flip_test
from crma_eval.stats.repeated import repeated_difference
from crma_eval.store import RunDir

TEST = "McNemar exact, two-sided"
GRADED_TEST = "paired t on per-document differences, two-sided"
GRADED_CONSTANT = "exact sign-flip test (per-document differences essentially constant)"
NOT_BINARY = "per-item values are not 0/1 (no McNemar): threshold only"
REPEATS = ("seed", "checkpoint")
ITEM_TEST = "item-level sign-flip permutation test on per-item differences, two-sided"


@dataclass(frozen=True)
class PairedTest:
    """A paired test's p-value with b / c (answers, or items when items repeat)."""

    statistic: float
    pvalue: float
    b: int
    c: int
    method: str


@dataclass(frozen=True)
class Evidence:
    """Result of pairing one metric's items; `test` is None when there is nothing to pair."""

    test: PairedTest | None
    n_pairs: int = 0
    note: str = "no paired records: threshold only"
    # Paired data behind the test (gate decision modes, MDE): baseline and current 0/1 answers
    # (shape [N]) and, for repeated items, each answer's item label (else None).
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    items: np.ndarray | None = None
    # Graded values: per-document differences current − baseline (shape [documents]), each
    # document's mean over its seeds and checkpoints (None for 0/1 records)
    d: np.ndarray | None = None


class RunRecords:
    """The record frames of one run directory, read on first use."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run = RunDir(run_dir)

    @cached_property
    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per record kind found in RUN_DIR/records (empty if there are none)."""
        files = self.run.record_files()
        return load_records(files) if files else {}


def _match(metric: str, keys: list[str], frames: list[pd.DataFrame], value: str) -> Any:
    """The matched records (crma_eval.pairing.Paired), or the Evidence saying why there are none;
    an InputError names unmatched or ambiguous items."""
    base, cur = frames
    if base.empty or cur.empty:
        lacking = "baseline" if base.empty else "current run"
        if not (base.empty and cur.empty):
            return Evidence(None, note=f"no paired records in the {lacking}: threshold only")
        return Evidence(None)
    try:
        return pair(base, cur, value, keys, ("baseline", "current run"))
    except InputError as exc:
        raise InputError(f"{metric}: {exc.problem}", path=exc.path, line=exc.line) from None


def _pair(metric: str, keys: list[str], frames: list[pd.DataFrame], value: str) -> Evidence:
    """Paired test of matched 0/1 records (McNemar, or item-level for repeated items)."""
    matched = _match(metric, keys, frames, value)
    if isinstance(matched, Evidence):
        return matched
    x, y = matched.frame["x"].to_numpy(bool), matched.frame["y"].to_numpy(bool)
    if {"domain", "item_id"} <= set(matched.keys) and repeats_items(matched.frame):
        return _item_level(matched.frame, x, y, matched.note)
    res = mcnemar_from_pairs(x, y, method="exact")
    test = PairedTest(res.statistic, res.pvalue, res.b, res.c, TEST)
    return Evidence(test, int(x.size), f"{TEST}, {matched.note}", x, y)


def _item_level(frame: pd.DataFrame, x: np.ndarray, y: np.ndarray, note: str) -> Evidence:
    """Sign-flip test on per-item totals of (baseline - current) repeated answers: the test of
    the pooled accuracy difference the gate compares (stats.repeated_difference)."""
    items = item_clusters(frame).to_numpy()
    res = repeated_difference(x.astype(float) - y.astype(float), items)
    kind = "exact" if res.exact else "Monte Carlo"
    test = PairedTest(res.estimate, res.pvalue, res.b, res.c, ITEM_TEST)
    text = f"{ITEM_TEST} ({kind}; {len(frame)} answers of {res.n_items} items), {note}"
    return Evidence(test, res.n_items, text, x, y, items)


def _graded(metric: str, keys: list[str], frames: list[pd.DataFrame], value: str) -> Evidence:
    """Paired test of matched graded values: per document (repeats over seeds and checkpoints
    averaged first), paired t of current − baseline; exact sign-flip test when the per-document
    differences are essentially constant (a t-test would claim certainty)."""
    matched = _match(metric, keys, frames, value)
    if isinstance(matched, Evidence):
        return matched
    frame = matched.frame.assign(d=matched.frame["y"] - matched.frame["x"])
    documents = [k for k in matched.keys if k not in REPEATS] or list(matched.keys)
    per_doc = frame.groupby(documents, sort=False, dropna=False)[["x", "y", "d"]].mean()
    d = per_doc["d"].to_numpy(float)
    b, c = int(np.sum(d < 0)), int(np.sum(d > 0))
    if d.size >= 2 and essentially_constant(d):
        flip = sign_flip_test(d)
        test = PairedTest(flip.statistic, flip.pvalue, b, c, GRADED_CONSTANT)
    else:
        res = paired_t(per_doc["y"].to_numpy(float), per_doc["x"].to_numpy(float))
        test = PairedTest(res.statistic, res.pvalue, b, c, GRADED_TEST)
    text = f"{test.method} ({len(frame)} pairs of {d.size} documents), {matched.note}"
    return Evidence(test, int(d.size), text, d=d)


def paired_evidence(
    metric: str, baseline: RunRecords, current: RunRecords, *, graded: bool = False
) -> Evidence:
    """Paired test of one metric between a baseline and the current run, where records allow.

    The plugin that owns the metric (its name's first segment) says which records it covers and
    on which keys they pair (`Plugin.pairing`); metrics without such a rule are compared by
    threshold only. Values that are not 0/1 get the graded test (`_graded`, with the
    per-document differences for the gate's margin modes) when `graded`, else threshold only.
    """
    plugin = plugins().get(metric.split(".", 1)[0])
    spec = plugin.pairing(metric) if plugin is not None else None
    if spec is None:
        return Evidence(None)
    frames = [spec.select(r.frames.get(spec.kind, pd.DataFrame())) for r in (baseline, current)]
    frames = list(spec.sides(*frames))
    if any(not f.empty and not f[spec.value].isin([0, 1]).all() for f in frames):
        if graded:
            return _graded(metric, list(spec.keys), frames, spec.value)
        return Evidence(None, note=NOT_BINARY)
    return _pair(metric, list(spec.keys), frames, spec.value)


def record_support(metric: str, run: RunRecords) -> str:
    """What per-item records one run has for a metric: "unpaired" (its plugin pairs no records
    for it), "absent" (it would, but the run has none), "binary" (0/1 values: McNemar and the
    margin modes apply) or "graded" (other values: threshold only)."""
    plugin = plugins().get(metric.split(".", 1)[0])
    spec = plugin.pairing(metric) if plugin is not None else None
    if spec is None:
        return "unpaired"
    frame = spec.select(run.frames.get(spec.kind, pd.DataFrame()))
    if frame.empty:
        return "absent"
    return "binary" if bool(frame[spec.value].isin([0, 1]).all()) else "graded"
