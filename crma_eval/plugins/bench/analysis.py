"""Standard-benchmark analysis: score and CI per task and arm, paired before/after deltas, Holm.

Records are first checked against their metric's scale (checks.py); arms are paired per document
on a stable key (cells.py); documents lm-eval could not score are counted (unscored.py).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import (
    InputError,
    benjamini_hochberg,
    ci_methods,
    comparison_mde,
    holm,
    in_order,
    mcnemar,
    paired_difference_ci,
    proportion_ci,
    put_metrics,
)
from crma_eval.api import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.bench.catalogue import bench_info
from crma_eval.plugins.bench.cells import NO_FILTER, Cell, pair_keys, paired, pairing
from crma_eval.plugins.bench.checks import check_records
from crma_eval.plugins.bench.continuous import (
    BITS_METRICS,
    ROLLING,
    paired_t,
    t_interval,
    unbounded_compare,
    unbounded_score,
)
from crma_eval.plugins.bench.groups import (
    EQUAL,
    document_weights,
    group_rules,
    preferred_metrics,
    stratified,
    subscores,
)
from crma_eval.plugins.bench.scales import RANGE, metric_scale, pp_factor
from crma_eval.plugins.bench.unscored import check_unscored, put_unscored, unscored_counts

PLUGIN = "bench"
UNSCORED = "bench_unscored"  # record kind of the documents lm-eval could not score
# Which per-document metric is a task's score when a task reports several (leaderboard habit:
# exact_match for generation, length-normalised accuracy when lm-eval computes it).
METRIC_PREFERENCE: tuple[str, ...] = ("exact_match", "acc_norm", "acc")


def chosen_metrics(
    task: str,
    metrics: list[str],
    overrides: dict[str, Any],
    preferred: list[str] | None = None,
    scales: dict[str, str] | None = None,
) -> list[str]:
    """The metrics that are the task's scores: the configured one(s) (`options.bench.metrics`,
    a name or a list), else the first of the task group's aggregated metrics, else by
    METRIC_PREFERENCE; log-likelihood metrics (perplexity, bits per byte) are always reported
    too (a lambada-like task: its accuracy and its perplexity)."""
    chosen = overrides.get(task)
    if chosen is not None:
        names = [chosen] if isinstance(chosen, str) else list(chosen)
        missing = [m for m in names if m not in metrics]
        if missing or not names:
            raise InputError(
                f"bench task {task!r} has no metric {', '.join(map(repr, missing or names))} "
                f"(records have {', '.join(metrics)})"
            )
        return names
    unbounded = [m for m in metrics if metric_scale(m, scales) == "unbounded"]
    if metrics and len(unbounded) == len(metrics):
        return list(metrics)
    primary = primary_metric(task, metrics, {}, preferred)
    return [primary, *(m for m in unbounded if m != primary)]


def primary_metric(
    task: str, metrics: list[str], overrides: dict[str, Any], preferred: list[str] | None = None
) -> str:
    """The one metric that is the task's score: configured, else the group's aggregated metric,
    else by METRIC_PREFERENCE."""
    chosen = overrides.get(task)
    if chosen is not None:
        return chosen_metrics(task, metrics, overrides)[0]
    for name in [*(preferred or []), *METRIC_PREFERENCE]:
        if name in metrics:
            return name
    return sorted(metrics)[0]


def _cells(frame: pd.DataFrame, overrides: dict[str, Any], scales: dict[str, str]) -> list[Cell]:
    """Split bench records into cells (task, chosen metric, filter, arm), in record order."""
    filters = frame["filter"] if "filter" in frame else pd.Series(None, index=frame.index)
    frame = frame.assign(filter=filters.astype(object).fillna(NO_FILTER))
    by_hash = pairing(frame) == "doc_hash"
    cells = []
    for task in in_order(frame["task"]):
        of_task = frame[frame["task"] == task]
        reported = in_order(of_task["metric"])
        preferred = preferred_metrics(task, of_task)
        chosen = chosen_metrics(task, reported, overrides, preferred, scales)
        for metric in chosen:
            scale = metric_scale(metric, scales)
            rows_of = of_task[of_task["metric"] == metric]
            for (filt, arm), rows in rows_of.groupby(["filter", "arm"], sort=False):
                values = rows["value"].astype(float).to_numpy()
                series = pd.Series(values, index=pair_keys(rows, by_hash))
                cell = Cell(task, metric, str(filt), str(arm), series, rows, scale)
                cells.append(replace(cell, named=len(reported) > 1))
    return cells


def _is_binary(*arrays: np.ndarray) -> bool:
    return all(bool(np.isin(a, (0.0, 1.0)).all()) for a in arrays)


def _clip(low: float, high: float, scale: str, width: bool = False) -> tuple[float, float]:
    """An interval clipped to the scale's range (a difference: to ± its width)."""
    bounds = RANGE.get(scale)
    if bounds is None or math.isnan(low):
        return low, high
    lo, hi = (bounds[0] - bounds[1], bounds[1] - bounds[0]) if width else bounds
    return max(low, lo), min(high, hi)


def _strata(cell: Cell) -> tuple[np.ndarray, str | None]:
    """Per-document weights of the cell's score and the group rule's name (None: a task)."""
    rule = group_rules(cell.rows).get(cell.task)
    weights, method = document_weights(cell.rows, rule, cell.metric, cell.filter)
    return np.asarray(weights, float), method


def score_stats(cell: Cell, options: AnalyzeOptions) -> dict[str, Any]:
    """Score with its CI: proportion CI for 0/1 values, else a t-interval of the mean clipped to
    the metric's range; rolling metrics as lm-eval aggregates them; groups by lm-eval's rule."""
    values = cell.values.to_numpy()
    if cell.scale == "unbounded":
        try:
            return unbounded_score(values, cell.metric, options.confidence, cell.weights)
        except InputError as exc:
            raise cell.located(exc, f"arm {cell.arm!r}") from None
    n = values.size
    _, method = _strata(cell)
    extra = {} if method is None else {"aggregation": method}
    if method == EQUAL:
        est = stratified(values, cell.rows["subtask"].to_numpy(), options.confidence)
        low, high = _clip(est["low"], est["high"], cell.scale)
        return {"score": est["estimate"], "n": n, "ci_low": low, "ci_high": high} | extra
    score = float(values.mean())
    if _is_binary(values):
        low, high = proportion_ci(int(values.sum()), n, options.confidence, options.ci_method)
    else:
        low, high = _clip(*t_interval(values, options.confidence), cell.scale)
    return {"score": score, "n": n, "ci_low": low, "ci_high": high} | extra


def _in_units(estimate: float, low: float, high: float, scale: str) -> dict[str, Any]:
    """A difference in pp for proportions, else in the metric's own units (named)."""
    factor = pp_factor(scale)
    if factor is not None:
        return {
            "delta_pp": factor * estimate,
            "delta_ci_low_pp": factor * low,
            "delta_ci_high_pp": factor * high,
        }
    unit = "points" if scale == "points" else "metric units"
    return {"delta": estimate, "delta_ci_low": low, "delta_ci_high": high, "unit": unit}


def interval_method(cell: Cell, options: AnalyzeOptions) -> str:
    """The method of `score_stats`' interval for a cell (for the metric catalogue)."""
    if cell.scale == "unbounded":
        weight = "Σweight" if cell.weights is not None else "n"
        return f"t-interval of the ratio estimator Σ-ll/{weight}" + (
            "" if cell.metric in BITS_METRICS else ", exponentiated"
        )
    if _strata(cell)[1] == EQUAL:
        return "normal interval, lm-eval's unweighted_mean_stderr"
    return options.ci_method if _is_binary(cell.values.to_numpy()) else "t-interval of the mean"


def _named_segments(segments: Any, named: dict[tuple[str, str], bool]) -> Any:
    """Segments of a score or delta row of the details (for the metric catalogue)."""

    def of_row(row: dict[str, Any]) -> tuple[str | None, ...]:
        key = (row["task"], row["metric"])
        return tuple(segments(row["task"], row["metric"], row["filter"], named.get(key, False)))

    return of_row


def compare(
    cell: Cell,
    after: np.ndarray,
    base: np.ndarray,
    options: AnalyzeOptions,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Paired after - base difference with CI in the metric's scale (pp only for proportions);
    McNemar (b, c) for 0/1 values, else paired t (interval and p from the same test, exact
    sign-flip p for essentially constant differences); an equal-weight group (weight_by_size:
    false) by the stratified difference; log-likelihood metrics as a ratio or in bits, each
    document with its `weights` (the same under both arms: `paired_weights`)."""
    if cell.scale == "unbounded":
        try:
            return unbounded_compare(
                after, base, cell.metric, options.confidence, options.seed, weights
            )
        except InputError as exc:
            raise cell.located(exc, "the arms compared") from None
    _, method = _strata(cell)
    if method == EQUAL:
        est = stratified(after - base, cell.rows["subtask"].to_numpy(), options.confidence)
        low, high = _clip(est["low"], est["high"], cell.scale, width=True)
        name = "stratified paired difference (equal weight per subtask), normal interval, z-test"
        extra = {"pvalue": est["pvalue"], "method": name}
        return _in_units(est["estimate"], low, high, cell.scale) | extra
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
        factor = pp_factor(cell.scale)
        if factor is not None:
            mde = comparison_mde(after, base, None, 1 - options.confidence)["mde"]
            extra["mde_pp"] = factor * mde
    else:
        t = paired_t(after - base, options.confidence, options.seed)
        estimate = t.estimate
        low, high = _clip(t.low, t.high, cell.scale, width=True)
        extra = {"pvalue": t.pvalue, "method": t.method}
    return _in_units(estimate, low, high, cell.scale) | extra


def _base_arm(arms: list[str], configured: str | None) -> str:
    """The arm every other arm is compared with: configured, else `base`, else the first."""
    if configured is not None:
        if configured not in arms:
            raise InputError(f"bench base arm {configured!r} not in the records (arms: {arms})")
        return configured
    return "base" if "base" in arms else arms[0]


def _deltas(cells: list[Cell], base_name: str, options: AnalyzeOptions) -> list[dict[str, Any]]:
    """Each non-base cell against the base arm's cell of the same task, metric and filter,
    Holm- and BH-adjusted across the tasks (metrics, filters) compared for the same arm."""
    lookup = {(c.task, c.metric, c.filter, c.arm): c for c in cells}
    deltas: list[dict[str, Any]] = []
    for cell in cells:
        base = lookup.get((cell.task, cell.metric, cell.filter, base_name))
        if cell.arm == base_name or base is None:
            continue
        after, before, weights = paired(cell, base)
        head: dict[str, Any] = {"task": cell.task, "metric": cell.metric, "filter": cell.filter}
        head |= {"arm": cell.arm, "base": base_name, "n": after.size, "scale": cell.scale}
        head |= cell.direction
        deltas.append(head | compare(cell, after, before, options, weights))
    for arm in dict.fromkeys(d["arm"] for d in deltas):
        _adjust([d for d in deltas if d["arm"] == arm])
    return deltas


def _quantity(delta: dict[str, Any]) -> tuple[str, str, str]:
    """The quantity a delta tests: its task, filter and metric, the rolling log-likelihood
    metrics (word/byte perplexity, bits per byte) of one task being one (the same logliks)."""
    metric = "rolling log-likelihood" if delta["metric"] in ROLLING else delta["metric"]
    return delta["task"], delta["filter"], metric


def _smallest(pvalues: list[float]) -> float:
    """The smallest p that is not NaN (NaN when none is)."""
    known = [p for p in pvalues if not math.isnan(p)]
    return min(known) if known else math.nan


def _adjust(family: list[dict[str, Any]]) -> None:
    """Holm and BH p of each delta of one compared arm in a family of one test per quantity
    (`_quantity`): its own p beside each other quantity's smallest p."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in family:
        groups.setdefault(_quantity(d), []).append(d)
    smallest = {q: _smallest([d["pvalue"] for d in members]) for q, members in groups.items()}
    for q, members in groups.items():
        others = [p for o, p in smallest.items() if o != q]
        for d in members:
            d["pvalue_holm"] = holm([d["pvalue"], *others])[0]
            d["pvalue_bh"] = benjamini_hochberg([d["pvalue"], *others])[0]


DELTA_STATS = (
    "delta_pp", "delta_ci_low_pp", "delta_ci_high_pp", "b", "c", "pvalue", "pvalue_holm",
    "pvalue_bh", "ratio", "ratio_ci_low", "ratio_ci_high", "log_ratio", "delta", "delta_ci_low",
    "delta_ci_high", "mde_pp",
)  # fmt: skip
SCORE_STATS = ("score", "n", "ci_low", "ci_high")


def _segments(cells: list[Cell]) -> Any:
    """Name segments of a cell: its metric when the task reports several, its filter when the
    task has several (`bench.<task>.<arm>[.<metric>][.<filter>].<stat>`)."""
    filters: dict[str, set[str]] = {}
    for cell in cells:
        filters.setdefault(cell.task, set()).add(cell.filter)

    def segments(task: str, metric: str, filt: str, named: bool) -> tuple[str | None, ...]:
        return (metric if named else None), (filt if len(filters[task]) > 1 else None)

    return segments


def _subscores(cells: list[Cell]) -> list[dict[str, Any]]:
    """Sub-group and subtask scores of every group cell (lm-eval's rule per sub-group)."""
    out = []
    for cell in cells:
        if cell.scale == "unbounded":
            continue
        head = {"task": cell.task, "metric": cell.metric, "filter": cell.filter, "arm": cell.arm}
        out += [head | row for row in subscores(cell.rows, cell.metric, cell.filter)]
    return out


def analyze_bench(frames: dict[str, pd.DataFrame], options: AnalyzeOptions) -> AnalysisResult:
    """Scores per task, metric, filter and arm; each other arm against the base arm, Holm across
    tasks; the unscored documents per task and arm (`bench_unscored` records).
    `options.extra['bench']`: metrics (task -> metric or list), scales (metric -> scale),
    base_arm. Values outside their scale's range are an InputError (checks.check_records)."""
    frame = frames[PLUGIN]
    settings = options.extra.get(PLUGIN) or {}
    scales = dict(settings.get("scales") or {})
    check_records(frame, scales)
    check_unscored(frame, frames.get(UNSCORED))
    cells = _cells(frame, dict(settings.get("metrics") or {}), scales)
    base_name = _base_arm(in_order(frame["arm"]), settings.get("base_arm"))
    segments = _segments(cells)
    named = {(c.task, c.metric): c.named for c in cells}

    metrics: dict[str, float] = {}
    scores = []
    for cell in cells:
        row = score_stats(cell, options)
        parts = (
            PLUGIN,
            cell.task,
            cell.arm,
            *segments(cell.task, cell.metric, cell.filter, cell.named),
        )
        put_metrics(metrics, parts, {k: row[k] for k in SCORE_STATS})
        head = {"task": cell.task, "metric": cell.metric, "filter": cell.filter}
        scores.append(head | row | {"arm": cell.arm, "scale": cell.scale} | cell.direction)
        scores[-1]["interval"] = interval_method(cell, options)
    deltas = _deltas(cells, base_name, options)
    for d in deltas:
        parts = (PLUGIN, d["task"], f"{d['arm']}_vs_{base_name}")
        parts += segments(d["task"], d["metric"], d["filter"], named[(d["task"], d["metric"])])
        put_metrics(metrics, parts, {k: d[k] for k in DELTA_STATS if k in d})
    methods = (
        ci_methods(options)
        | METHODS
        | {
            "test": f"mcnemar-{options.mcnemar_method} (0/1 scores); paired t-test (graded "
            "scores); exact sign-flip test (essentially constant differences, R's t.test rule); "
            "z-test of the stratified difference (groups with weight_by_size: false)",
            "pairing": pairing(frame),
        }
    )
    unscored = unscored_counts(frame, frames.get(UNSCORED))
    details = {"scores": scores, "deltas": deltas, "base_arm": base_name, "unscored": unscored}
    subs = _subscores(cells)
    if subs:
        details["subscores"] = subs
    info = bench_info(metrics, details, options.confidence, _named_segments(segments, named))
    info |= put_unscored(metrics, unscored)
    return AnalysisResult(metrics, details, methods, metric_info=info)


METHODS = {
    "ci_continuous": "t-interval of the mean, clipped to the metric's range (fraction [0, 1], "
    "percent [0, 100]; from the metric's definition)",
    "paired_ci": "Newcombe square-and-add (0/1 scores); paired t-interval of the same paired "
    "t-test (graded scores, clipped to ± the metric's range); zero width for essentially "
    "constant differences",
    "unbounded": "rolling log-likelihood as lm-eval: perplexity exp(-Σll/Σwords or bytes), bits "
    "per byte -Σll/Σbytes/ln 2; compared on the same documents as a perplexity ratio or a "
    "difference in bits, t-interval (n - 1 df) of the ratio estimator",
    "units": "differences in percentage points for proportions (fraction, percent), in points "
    "for 0-100 scores (BLEU, chrF, ROUGE), else in the metric's own units",
    "groups": "lm-eval's group rule (aggregate_metric_list, weight_by_size over all leaf "
    "tasks); weight_by_size: false by the stratified mean with lm-eval's unweighted_mean_stderr",
    "multiplicity": "holm and benjamini-hochberg across tasks (metrics, filters), per compared "
    "arm; one family member per quantity: a task's word/byte perplexity and bits per byte (the "
    "same per-document log-likelihoods) count once, each adjusted beside the other quantities' "
    "smallest p",
}
