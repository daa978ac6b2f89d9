"""Standard-benchmark analysis: score and CI per task and arm, paired before/after deltas, Holm.

Arms are paired per document on a stable key: lm-eval's `doc_hash` (a hash of the document's
content) when every record has one, else `doc_id`; identical documents are told apart by their
order. doc_id alone is not trusted (lm-eval issue #4084 mislabels it for unsorted `samples=`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crma_eval.errors import InputError
from crma_eval.fmt import ci_methods, in_order, put_metrics
from crma_eval.pairing import pair
from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.bench.catalogue import bench_info
from crma_eval.plugins.bench.continuous import (
    BITS_METRICS,
    UNBOUNDED,
    paired_t,
    t_interval,
    unbounded_compare,
    unbounded_score,
)
from crma_eval.stats import benjamini_hochberg, holm, mcnemar, paired_difference_ci, proportion_ci
from crma_eval.stats.equivalence import comparison_mde

PLUGIN = "bench"
# Which per-document metric is a task's score when a task reports several (leaderboard habit:
# exact_match for generation, length-normalised accuracy when lm-eval computes it).
METRIC_PREFERENCE: tuple[str, ...] = ("exact_match", "acc_norm", "acc")
NO_FILTER = "none"
# Pairing keys of bench documents (crma_eval.pairing uses those both arms carry).
PAIR_KEYS = ["document", "seed", "checkpoint"]


@dataclass(frozen=True)
class Cell:
    """Per-document values of one task's score under one filter and arm, indexed by pair key."""

    task: str
    metric: str
    filter: str
    arm: str
    values: pd.Series
    rows: pd.DataFrame


def primary_metric(task: str, metrics: list[str], overrides: dict[str, str]) -> str:
    """The metric that is the task's score: the configured one, else by METRIC_PREFERENCE."""
    chosen = overrides.get(task)
    if chosen is not None:
        if chosen not in metrics:
            raise InputError(
                f"bench task {task!r} has no metric {chosen!r} (records have {', '.join(metrics)})"
            )
        return chosen
    preferred = [m for m in METRIC_PREFERENCE if m in metrics]
    return preferred[0] if preferred else sorted(metrics)[0]


def _natural(doc_id: str) -> tuple[Any, ...]:
    """Sort key that orders "doc2" before "doc10"."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(doc_id)))


def pair_keys(rows: pd.DataFrame, by_hash: bool) -> list[str]:
    """Stable per-document keys: doc_hash plus occurrence number (in doc_id order), or doc_id."""
    doc_ids = rows["doc_id"].astype(str).tolist()
    if not by_hash:
        return doc_ids
    hashes = rows["doc_hash"].astype(str).tolist()
    seen: dict[str, int] = {}
    keys = [""] * len(doc_ids)
    for j in sorted(range(len(doc_ids)), key=lambda j: _natural(doc_ids[j])):
        seen[hashes[j]] = seen.get(hashes[j], -1) + 1
        keys[j] = f"{hashes[j]}#{seen[hashes[j]]}"
    return keys


def _cells(frame: pd.DataFrame, overrides: dict[str, str]) -> list[Cell]:
    """Split bench records into cells (task, primary metric, filter, arm), in record order."""
    filters = frame["filter"] if "filter" in frame else pd.Series(None, index=frame.index)
    frame = frame.assign(filter=filters.astype(object).fillna(NO_FILTER))
    by_hash = pairing(frame) == "doc_hash"
    cells = []
    for task in in_order(frame["task"]):
        of_task = frame[frame["task"] == task]
        metric = primary_metric(task, in_order(of_task["metric"]), overrides)
        chosen = of_task[of_task["metric"] == metric]
        for (filt, arm), rows in chosen.groupby(["filter", "arm"], sort=False):
            values = rows["value"].astype(float).to_numpy()
            series = pd.Series(values, index=pair_keys(rows, by_hash))
            cells.append(Cell(task, metric, str(filt), str(arm), series, rows))
    return cells


def pairing(frame: pd.DataFrame) -> str:
    """`doc_hash` when every record carries one, else `doc_id`."""
    return "doc_hash" if "doc_hash" in frame and bool(frame["doc_hash"].notna().all()) else "doc_id"


def _is_binary(*arrays: np.ndarray) -> bool:
    return all(bool(np.isin(a, (0.0, 1.0)).all()) for a in arrays)


def _bounded(values: np.ndarray) -> bool:
    """A graded metric whose values all lie in [0, 1] is taken to be bounded there."""
    return bool(np.all((values >= 0) & (values <= 1)))


def score_stats(
    values: np.ndarray, options: AnalyzeOptions, task: str = "", metric: str = ""
) -> dict[str, float]:
    """Mean score with its CI: the proportion CI for 0/1 values, else a t-interval of the mean
    (clipped to [0, 1] for metrics bounded there); unbounded metrics as lm-eval aggregates them."""
    if metric in UNBOUNDED:
        return unbounded_score(values, task, metric, options.confidence)
    n = values.size
    score = float(values.mean())
    if _is_binary(values):
        low, high = proportion_ci(int(values.sum()), n, options.confidence, options.ci_method)
    else:
        low, high = t_interval(values, options.confidence)
        if _bounded(values) and not math.isnan(low):
            low, high = max(low, 0.0), min(high, 1.0)
    return {"score": score, "n": n, "ci_low": low, "ci_high": high}


def interval_method(values: np.ndarray, options: AnalyzeOptions, metric: str) -> str:
    """The method of `score_stats`' interval for these values (for the metric catalogue)."""
    if metric in UNBOUNDED:
        return (
            "t-interval of the mean log-likelihood, exponentiated"
            if metric not in BITS_METRICS
            else "t-interval of the mean"
        )
    return options.ci_method if _is_binary(values) else "t-interval of the mean"


def compare(
    after: np.ndarray, base: np.ndarray, options: AnalyzeOptions, task: str = "", metric: str = ""
) -> dict[str, Any]:
    """Paired after - base delta in pp with CI; McNemar (b, c) for 0/1 values, else paired t
    (interval and p from the same test, exact sign-flip p for zero-variance differences).
    Unbounded metrics: a ratio or a difference in bits (continuous.unbounded_compare)."""
    if metric in UNBOUNDED:
        return unbounded_compare(after, base, task, metric, options.confidence, options.seed)
    if _is_binary(after, base):
        diff = paired_difference_ci(after.astype(bool), base.astype(bool), options.confidence)
        test = mcnemar(
            int(np.sum((after == 1) & (base == 0))),
            int(np.sum((after == 0) & (base == 1))),
            options.mcnemar_method,
        )
        estimate, low, high = diff.estimate, diff.low, diff.high
        method = f"Newcombe interval; McNemar ({options.mcnemar_method})"
        extra = {"b": test.b, "c": test.c, "pvalue": test.pvalue, "method": method}
        mde = comparison_mde(after, base, None, 1 - options.confidence)["mde"]
        extra["mde_pp"] = 100 * mde
    else:
        t = paired_t(after - base, options.confidence, options.seed)
        estimate, low, high = t.estimate, t.low, t.high
        if _bounded(after) and _bounded(base) and not math.isnan(low):
            low, high = max(low, -1.0), min(high, 1.0)
        extra = {"pvalue": t.pvalue, "method": t.method}
    return {
        "delta_pp": 100 * estimate,
        "delta_ci_low_pp": 100 * low,
        "delta_ci_high_pp": 100 * high,
        **extra,
    }


def _side(cell: Cell) -> pd.DataFrame:
    """One cell as a pairing side: document key, value, seed/checkpoint when given, location."""
    side = pd.DataFrame({"document": cell.values.index, "value": cell.values.to_numpy()})
    for column in ("seed", "checkpoint", "_file", "_line"):
        if column in cell.rows.columns:
            side[column] = cell.rows[column].to_numpy()
    return side


def _paired(cell: Cell, base: Cell) -> tuple[np.ndarray, np.ndarray]:
    """The two cells' values matched by crma_eval.pairing on document (+ seed, checkpoint)."""
    names = (f"bench task {cell.task!r} arm {cell.arm!r}", f"arm {base.arm!r}")
    matched = pair(_side(cell), _side(base), "value", PAIR_KEYS, names, "document")
    return matched.frame["x"].to_numpy(float), matched.frame["y"].to_numpy(float)


def _base_arm(arms: list[str], configured: str | None) -> str:
    """The arm every other arm is compared with: configured, else `base`, else the first."""
    if configured is not None:
        if configured not in arms:
            raise InputError(f"bench base arm {configured!r} not in the records (arms: {arms})")
        return configured
    return "base" if "base" in arms else arms[0]


def _deltas(cells: list[Cell], base_name: str, options: AnalyzeOptions) -> list[dict[str, Any]]:
    """Each non-base cell against the base arm's cell of the same task and filter, Holm-adjusted."""
    lookup = {(c.task, c.filter, c.arm): c for c in cells}
    deltas: list[dict[str, Any]] = []
    for cell in cells:
        base = lookup.get((cell.task, cell.filter, base_name))
        if cell.arm == base_name or base is None:
            continue
        after, before = _paired(cell, base)
        head: dict[str, Any] = {"task": cell.task, "metric": cell.metric, "filter": cell.filter}
        head |= {"arm": cell.arm, "base": base_name, "n": after.size}
        deltas.append(head | compare(after, before, options, cell.task, cell.metric))
    for arm in dict.fromkeys(d["arm"] for d in deltas):
        family = [d for d in deltas if d["arm"] == arm]
        pvalues = [d["pvalue"] for d in family]
        for d, by_holm, by_bh in zip(
            family, holm(pvalues), benjamini_hochberg(pvalues), strict=True
        ):
            d["pvalue_holm"] = by_holm
            d["pvalue_bh"] = by_bh
    return deltas


DELTA_STATS = (
    "delta_pp", "delta_ci_low_pp", "delta_ci_high_pp", "b", "c", "pvalue", "pvalue_holm",
    "pvalue_bh", "ratio", "ratio_ci_low", "ratio_ci_high", "log_ratio", "delta", "delta_ci_low",
    "delta_ci_high", "mde_pp",
)  # fmt: skip


def analyze_bench(frame: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult:
    """Scores per task, filter and arm; each other arm against the base arm, Holm across tasks."""
    settings = options.extra.get(PLUGIN) or {}
    cells = _cells(frame, dict(settings.get("metrics") or {}))
    base_name = _base_arm(in_order(frame["arm"]), settings.get("base_arm"))
    filters: dict[str, set[str]] = {}
    for cell in cells:
        filters.setdefault(cell.task, set()).add(cell.filter)

    def segment(task: str, filt: str) -> str | None:
        return filt if len(filters[task]) > 1 else None

    metrics: dict[str, float] = {}
    scores = []
    for cell in cells:
        row = score_stats(cell.values.to_numpy(), options, cell.task, cell.metric)
        put_metrics(metrics, (PLUGIN, cell.task, cell.arm, segment(cell.task, cell.filter)), row)
        scores.append({"task": cell.task, "metric": cell.metric, "filter": cell.filter} | row)
        scores[-1]["arm"] = cell.arm
        scores[-1]["interval"] = interval_method(cell.values.to_numpy(), options, cell.metric)
    deltas = _deltas(cells, base_name, options)
    for d in deltas:
        parts = (PLUGIN, d["task"], f"{d['arm']}_vs_{base_name}", segment(d["task"], d["filter"]))
        put_metrics(metrics, parts, {k: d[k] for k in DELTA_STATS if k in d})
    methods = ci_methods(options) | {
        "ci_continuous": "t-interval of the mean, clipped to [0, 1] for metrics bounded there",
        "paired_ci": "Newcombe square-and-add (0/1 scores); paired t-interval of the same paired "
        "t-test (graded scores, clipped to [-1, 1]); zero width for zero-variance differences",
        "test": f"mcnemar-{options.mcnemar_method} (0/1 scores); paired t-test (graded scores); "
        "exact sign-flip test (zero-variance differences)",
        "unbounded": "perplexity: exp(mean -loglikelihood) as lm-eval, compared as a ratio "
        "exp(mean log-difference) with a paired t-interval on the log scale; bits_per_byte: "
        "mean, compared as a difference in bits with a paired t-interval",
        "multiplicity": "holm and benjamini-hochberg across tasks (and filters), per compared arm",
        "pairing": pairing(frame),
    }
    details = {"scores": scores, "deltas": deltas, "base_arm": base_name}
    info = bench_info(metrics, details, options.confidence, segment)
    return AnalysisResult(metrics, details, methods, metric_info=info)
