"""cl plugin numbers: per series (condition, arm) the matrix R, every metric per seed, mean ± sd
across seeds and item-cluster bootstrap intervals; the modular attribution (attribution.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from crma_eval import InputError, group_summary, put_metrics
from crma_eval.api import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.cl.intervals import (
    METHOD,
    cell_means,
    chunks,
    draw_weights,
    one_hot,
    percentile,
)
from crma_eval.plugins.cl.matrix import (
    ItemSeries,
    LossSeries,
    QATable,
    loss_series,
    nullable,
    qa_table,
)
from crma_eval.plugins.cl.metrics import LOSS_NAMES, SPECS, all_metrics, needed_cells
from crma_eval.plugins.cl.options import CLOptions, cl_options

PLUGIN = "cl"
LOSS_NO_CI = (
    "loss records hold one mean per domain, so there is no item to resample: no interval; "
    "the spread across seeds is the sd"
)


@dataclass
class Computed:
    """One series' point values and (qa) bootstrap replicates of the seed-mean cells/metrics."""

    R: np.ndarray  # [S, T+1, T]
    per_seed: dict[str, np.ndarray]  # metric -> [S]
    cells_b: np.ndarray | None  # [B, T+1, T] seed-mean cells per resample
    metrics_b: dict[str, np.ndarray]  # metric -> [B] seed-mean metric per resample


def _compute_qa(
    series: ItemSeries, table: QATable, weights: np.ndarray | None
) -> tuple[Computed, np.ndarray | None]:
    """Point matrix and metrics of a qa series, and its bootstrap replicates."""
    columns = one_hot(table.items["domain"], series.order)
    ones = np.ones((1, len(table.items)))
    R = cell_means(series.y, columns, ones)[0]
    joint = None if series.joint is None else cell_means(series.joint, columns, ones)[0]
    per_seed = all_metrics(R, joint)
    if weights is None:
        return Computed(R, per_seed, None, {}), joint
    cells: list[np.ndarray] = []
    metrics: dict[str, list[np.ndarray]] = {name: [] for name in per_seed}
    for block in chunks(weights):
        Rb = cell_means(series.y, columns, block)  # [b, S, T+1, T]
        Jb = None if series.joint is None else cell_means(series.joint, columns, block)[:, None]
        cells.append(Rb.mean(axis=1))
        for name, values in all_metrics(Rb, Jb).items():
            metrics[name].append(values.mean(axis=1))
    return Computed(
        R, per_seed, np.concatenate(cells), {k: np.concatenate(v) for k, v in metrics.items()}
    ), joint


def _reasons(
    R: np.ndarray, order: tuple[str, ...], seeds: list[Any], joint: bool, source: str
) -> dict[str, str]:
    """Why each metric that cannot be computed is not (missing cells, no joint, T = 1)."""
    T = len(order)
    reasons: dict[str, str] = {}
    for spec_name in SPECS:
        name = LOSS_NAMES.get(spec_name, spec_name) if source == "loss" else spec_name
        if name == "rem" and source == "loss":
            continue
        if name == "intransigence" and not joint:
            reasons[name] = (
                "no joint reference: records of the condition named by options.cl.joint"
                + (" (qa records only)" if source == "loss" else "")
            )
            continue
        missing = needed_cells(spec_name, T)[None] & np.isnan(R)
        if T < 2 and spec_name not in ("acc", "a", "intransigence"):
            reasons[name] = "needs at least 2 phases"
        elif missing.any():
            s, r, c = (int(v[0]) for v in np.nonzero(missing))
            count = int(missing.any(axis=0).sum())
            hint = ""
            if r == 0:
                hint = " (row 0 is the base model: a base arm or after_phase 0 records)"
            elif r < c + 1:
                hint = " (a domain before its phase: an oracle arm has no adapter for it yet)"
            reasons[name] = (
                f"{count} needed cell(s) not measured, e.g. R[{r}, {order[c]}] for seed "
                f"{seeds[s]}{hint}"
            )
    return reasons


def _summary(per_seed: np.ndarray) -> dict[str, float]:
    summary = group_summary(per_seed)
    return {"mean": summary.mean, "std": summary.std, "n": float(summary.n)}


def _series_details(
    head: dict[str, Any],
    computed: Computed,
    order: tuple[str, ...],
    seeds: list[Any],
    reasons: dict[str, str],
    confidence: float,
) -> dict[str, Any]:
    """The results.json entry of one series: matrix, intervals, metrics and skipped metrics."""
    R = computed.R
    matrix = R.mean(axis=0)
    out: dict[str, Any] = {
        **head,
        "domains": list(order),
        "seeds": seeds,
        "matrix": nullable(matrix),
        "per_seed": {str(s): nullable(R[i]) for i, s in enumerate(seeds)},
        "metrics": {},
        "skipped": reasons,
    }
    if computed.cells_b is not None:
        low, high = percentile(computed.cells_b, confidence)
        out["ci_low"], out["ci_high"] = nullable(low), nullable(high)
    for name, values in computed.per_seed.items():
        if name in reasons or np.isnan(values).any():
            reasons.setdefault(name, "not defined for these matrices")
            continue
        entry = _summary(values) | {
            "seeds": {str(s): float(v) for s, v in zip(seeds, values, strict=True)}
        }
        if name in computed.metrics_b:
            low, high = percentile(computed.metrics_b[name][:, None], confidence)
            entry |= {"ci_low": float(low[0]), "ci_high": float(high[0])}
        out["metrics"][name] = entry
    return out


def _put(metrics: dict[str, float], series: dict[str, Any]) -> None:
    """`cl.<label>.<metric>` (+ .std .n .ci_low .ci_high .seed_<s>) and the cells `.r<p>.<dom>`."""
    parts = tuple(series["prefix"].split("."))
    for name, entry in series["metrics"].items():
        stats = {"": entry["mean"], "std": entry["std"], "n": entry["n"]}
        stats |= {k: entry[k] for k in ("ci_low", "ci_high") if k in entry}
        stats |= {f"seed_{s}": v for s, v in entry["seeds"].items()}
        put_metrics(metrics, (*parts, name), stats)
    low, high = series.get("ci_low"), series.get("ci_high")
    for r, row in enumerate(series["matrix"]):
        for c, value in enumerate(row):
            if value is None:
                continue
            stats = {"": value}
            if low is not None and high is not None and low[r][c] is not None:
                stats |= {"ci_low": low[r][c], "ci_high": high[r][c]}
            put_metrics(metrics, (*parts, f"r{r}", series["domains"][c]), stats)


def _qa_prefixes(table: QATable, opts: CLOptions) -> list[str]:
    """`cl.<condition>` for a condition's only (or primary) arm, else `cl.<condition>.<arm>`."""
    count: dict[str, int] = {}
    for s in table.series:
        count[s.condition] = count.get(s.condition, 0) + 1
    return [
        ".".join((PLUGIN, s.condition))
        if count[s.condition] == 1 or opts.primary_arm.get(s.condition) == s.arm
        else ".".join((PLUGIN, s.condition, s.arm))
        for s in table.series
    ]


def _qa_results(
    table: QATable, opts: CLOptions, options: AnalyzeOptions
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Computed]]:
    weights = draw_weights(table.items["domain"], opts.n_resamples, options.seed)
    out, computed = [], {}
    for series, prefix in zip(table.series, _qa_prefixes(table, opts), strict=True):
        result, joint = _compute_qa(series, table, weights)
        computed[(series.condition, series.arm)] = result
        reasons = _reasons(result.R, series.order, series.seeds, joint is not None, "qa")
        n_items = table.items["domain"].value_counts()
        head = {
            "prefix": prefix,
            "condition": series.condition,
            "arm": series.arm,
            "source": "qa",
            "unit": "accuracy",
            "higher_is_better": True,
            "base": series.base,
            "joint": nullable(joint) if joint is not None else None,
            "n_items": {d: int(n_items.get(d, 0)) for d in series.order},
        }
        out.append(
            _series_details(head, result, series.order, series.seeds, reasons, options.confidence)
        )
    return out, computed


def _loss_results(losses: list[LossSeries], confidence: float) -> list[dict[str, Any]]:
    out = []
    for series in losses:
        R = series.matrices
        result = Computed(R, all_metrics(R, None, higher_is_better=False), None, {})
        reasons = _reasons(R, series.order, series.seeds, False, "loss")
        head = {
            "prefix": f"{PLUGIN}.{series.condition}.loss",
            "condition": series.condition,
            "arm": None,
            "source": "loss",
            "unit": "loss (nats/token)",
            "higher_is_better": False,
            "base": "after_phase 0 records" if not np.isnan(R[:, 0]).all() else "",
            "joint": None,
            "interval_note": LOSS_NO_CI,
        }
        out.append(_series_details(head, result, series.order, series.seeds, reasons, confidence))
    return out


def _options(extra: dict[str, Any]) -> CLOptions:
    try:
        return cl_options(extra)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(map(str, ("options", "cl", *err["loc"])))
        raise InputError(err["msg"], field=loc) from None


def analyze_cl(frames: dict[str, pd.DataFrame], options: AnalyzeOptions) -> AnalysisResult | None:
    """Matrices and continual-learning metrics from qa and loss records (docs/cl.md)."""
    from crma_eval.plugins.cl.attribution import attributions
    from crma_eval.plugins.cl.catalogue import cl_info

    opts = _options(options.extra)
    qa, loss = frames.get("qa"), frames.get("loss")
    loss = None if loss is None or loss.empty else loss
    table = qa_table(qa, opts, loss) if qa is not None and not qa.empty else None
    losses = loss_series(loss, opts) if loss is not None else []
    if table is None and not losses:
        return None
    series: list[dict[str, Any]] = []
    computed: dict[tuple[str, str], Computed] = {}
    notes: list[str] = []
    if table is not None:
        notes = table.notes
        if table.series:
            series, computed = _qa_results(table, opts, options)
    series += _loss_results(losses, options.confidence)
    methods = {
        "ci": f"{METHOD}, B = {opts.n_resamples}, seed {options.seed}",
        "std": "sample (ddof=1) across seeds",
        "metrics": "; ".join(f"{k}: {v.formula} ({v.source})" for k, v in SPECS.items()),
    }
    if not series:
        return AnalysisResult(skipped="; ".join(notes) or "no series", methods=methods)
    found = attributions(series, computed, qa, opts, options) if table is not None else []
    metrics: dict[str, float] = {}
    for entry in series:
        _put(metrics, entry)
    for entry in found:
        put_metrics(metrics, (PLUGIN, entry["condition"], "attribution"), entry["metrics"])
    details = {
        "series": series,
        "attribution": found,
        "notes": notes,
        "confidence": options.confidence,
        "n_resamples": opts.n_resamples,
        "specs": {k: asdict(v) for k, v in SPECS.items()},
    }
    return AnalysisResult(
        metrics=metrics, details=details, methods=methods, metric_info=cl_info(metrics, details)
    )
