"""Score matrices of the cl plugin: qa records as items over phases and seeds, loss records as
per-seed loss matrices.

The phase a qa record was measured after is its `after_phase` field (written by the qa collector
from the checkpoint manifest's `training.phase`), else the `-phase<p>` ending of its checkpoint id
(`<condition>-seed<s>-phase<p>`, the id of a checkpoint with training info). Row 0 (the base model)
is a series' own after_phase 0 records, else the records of the base arm (`options.cl.base_arm`,
pooled per item over everything it answered: the base model depends on no condition or seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import InputError, first_row, in_order, where
from crma_eval.plugins.cl.options import CLOptions

PHASE_IN_ID = r"-phase(\d+)$"
ITEM = ["domain", "item_id"]


@dataclass
class ItemSeries:
    """One (condition, arm) of qa records: mean correctness per seed, phase and item.

    y: [S, T+1, I] over the analysis' item list (NaN: not measured); row 0 is the base model.
    joint: [I] the joint reference's mean correctness per item, or None.
    """

    condition: str
    arm: str
    order: tuple[str, ...]
    seeds: list[Any]
    y: np.ndarray
    joint: np.ndarray | None
    base: str  # where row 0 came from ("" when nowhere)


@dataclass
class LossSeries:
    """One condition of loss records: its per-seed loss matrices [S, T+1, T] (NaN: no record)."""

    condition: str
    order: tuple[str, ...]
    seeds: list[Any]
    matrices: np.ndarray


@dataclass
class QATable:
    """Every qa series of an analysis over one shared item list (so resamples pair them)."""

    items: pd.DataFrame  # columns domain, item_id; row i = item i
    series: list[ItemSeries] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def nullable(values: np.ndarray) -> Any:
    """An array as nested lists for results.json, NaN as null."""
    if np.ndim(values) == 0:
        return None if np.isnan(values) else float(values)
    return [nullable(v) for v in values]


def record_phases(qa: pd.DataFrame) -> pd.Series:
    """after_phase of each qa record (float; NaN: unknown): the field, else the checkpoint id."""
    phase = pd.Series(np.nan, index=qa.index, dtype=float)
    if "after_phase" in qa.columns:
        phase = pd.to_numeric(qa["after_phase"], errors="coerce").astype(float)
    if "checkpoint" in qa.columns:
        ids = qa["checkpoint"].astype("string").str.extract(PHASE_IN_ID)[0]
        phase = phase.fillna(pd.to_numeric(ids, errors="coerce").astype(float))
    return phase


def _as_order(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(str(v) for v in value)
    return None


def _order_of(
    rows: pd.DataFrame, condition: str, options: CLOptions, loss: pd.DataFrame | None
) -> tuple[str, ...] | None:
    """The series' domain order: its records' domain_order, else options, else its loss records."""
    if "domain_order" in rows.columns:
        known = rows["domain_order"].map(_as_order).dropna()
        if not known.empty:
            first = known.iloc[0]
            differs = known.map(lambda order: order != first)
            if differs.any():
                row = rows.loc[differs[differs].index[0]]
                raise InputError(
                    f"differs from the domain_order {list(first)} of other qa records of "
                    f"condition {condition!r}, arm {row['arm']!r}",
                    field="domain_order",
                    **where(row),
                )
            return first
    if options.domain_order:
        return tuple(options.domain_order)
    if loss is not None and "domain_order" in loss.columns:
        known = loss.loc[loss["condition"].astype(str) == condition, "domain_order"]
        orders = known.map(_as_order).dropna()
        if not orders.empty:
            return orders.iloc[0]
    return None


def _item_means(rows: pd.DataFrame, items: pd.DataFrame) -> np.ndarray:
    """Mean correctness per item of `rows`, aligned to `items` (NaN where it has none)."""
    means = rows.assign(y=rows["correct"].astype(float)).groupby(ITEM, sort=False)["y"].mean()
    index = pd.MultiIndex.from_frame(items)
    return means.reindex(index).to_numpy(dtype=float)


def _joint(frame: pd.DataFrame, options: CLOptions, items: pd.DataFrame) -> np.ndarray | None:
    """The joint reference per item: its records after its last phase (per seed), pooled."""
    rows = frame[frame["condition"] == options.joint]
    if rows.empty:
        return None
    last = rows["phase"].fillna(-1).groupby(rows["seed"]).transform("max")
    return _item_means(rows[rows["phase"].fillna(-1) == last], items)


def _series_y(
    rows: pd.DataFrame, order: tuple[str, ...], items: pd.DataFrame, base: np.ndarray | None
) -> tuple[list[Any], np.ndarray, str]:
    """(seeds, y [S, T+1, I], base source) of one series."""
    seeds = in_order(rows["seed"])
    T = len(order)
    y = np.full((len(seeds), T + 1, len(items)), np.nan)
    for s, seed in enumerate(seeds):
        of_seed = rows[rows["seed"] == seed]
        for phase, group in of_seed.groupby("phase"):
            if 0 <= int(phase) <= T:
                y[s, int(phase)] = _item_means(group, items)
    own = bool((rows["phase"] == 0).any())
    source = "after_phase 0 records" if own else ""
    if base is not None:
        for s in range(len(seeds)):
            if np.isnan(y[s, 0]).all():
                y[s, 0] = base
                source = "base arm"
    return seeds, y, source


def qa_table(qa: pd.DataFrame, options: CLOptions, loss: pd.DataFrame | None) -> QATable | None:
    """Every (condition, arm) of the qa records measured after two or more phases; None when no
    qa record carries a phase (nothing for this plugin to do)."""
    frame = qa.assign(phase=record_phases(qa))
    if frame["phase"].isna().all():
        return None
    condition = frame["condition"] if "condition" in frame.columns else frame["arm"]
    seed = frame["seed"] if "seed" in frame.columns else pd.Series(np.nan, index=frame.index)
    frame = frame.assign(
        condition=condition.where(condition.notna(), frame["arm"]).astype(str),
        seed=seed.map(lambda v: "na" if pd.isna(v) else int(v)),
        item_id=frame["item_id"].astype(str),
    )
    items = frame[ITEM].drop_duplicates().reset_index(drop=True)
    base_rows = frame[frame["arm"] == options.base_arm]
    base = _item_means(base_rows, items) if not base_rows.empty else None
    table = QATable(items)
    joint = _joint(frame, options, items)
    rest = frame[(frame["arm"] != options.base_arm) & (frame["condition"] != options.joint)]
    for (cond, arm), rows in rest.groupby(["condition", "arm"], sort=False):
        phases = sorted(int(p) for p in rows["phase"].dropna().unique() if p >= 1)
        name = f"{cond} / {arm}"
        if len(phases) < 2:
            seen = ", ".join(map(str, phases)) or "none"
            table.notes.append(
                f"{name}: measured after phase(s) {seen} only; a matrix needs QA after every "
                "phase (qa_checkpoints: all)"
            )
            continue
        order = _order_of(rows, cond, options, loss)
        if order is None:
            table.notes.append(
                f"{name}: no domain_order (in the qa records, options.cl.domain_order or the "
                "condition's loss records), so the trained domain of each phase is unknown"
            )
            continue
        if max(phases) > len(order):
            row = first_row(rows, rows["phase"] > len(order))
            raise InputError(
                f"after_phase {int(row['phase'])} exceeds the {len(order)} phases of domain_order",
                field="after_phase",
                **where(row),
            )
        seeds, y, source = _series_y(rows[rows["phase"].notna()], order, items, base)
        y[:, :, ~items["domain"].isin(order).to_numpy()] = np.nan
        table.series.append(ItemSeries(str(cond), str(arm), order, seeds, y, joint, source))
    return table


def loss_series(loss: pd.DataFrame, options: CLOptions) -> list[LossSeries]:
    """Per condition, the per-seed loss matrices (row 0 from after_phase 0 records, if any)."""
    orders: dict[tuple[Any, Any], tuple[str, ...]] = {}
    for key, rows in loss.groupby(["condition", "seed"], sort=False):
        order = tuple(options.domain_order) if options.domain_order else None
        if order is None and "domain_order" in rows.columns:
            known = rows["domain_order"].map(_as_order).dropna()
            order = known.iloc[0] if not known.empty else None
        if order is None:
            raise InputError(
                f"domain_order is needed for condition {key[0]!r}, seed {key[1]} (add it to the "
                "loss records or set options.cl.domain_order)",
                field="domain_order",
                **where(rows.iloc[0]),
            )
        orders[key] = order
    out: list[LossSeries] = []
    for cond in in_order(loss["condition"]):
        rows = loss[loss["condition"] == cond]
        seeds = in_order(rows["seed"])
        order = orders[(cond, seeds[0])]
        if any(orders[(cond, s)] != order for s in seeds):
            raise InputError(
                f"condition {cond!r} trains its domains in different orders across seeds; the "
                "continual-learning matrix needs one order per condition",
                field="domain_order",
            )
        T = len(order)
        matrices = np.full((len(seeds), T + 1, T), np.nan)
        position = {d: i for i, d in enumerate(order)}
        for s, seed in enumerate(seeds):
            known = rows[(rows["seed"] == seed) & rows["domain"].isin(position)]
            matrices[
                s, known["after_phase"].to_numpy(int), known["domain"].map(position).to_numpy(int)
            ] = known["loss"].to_numpy(float)
        out.append(LossSeries(str(cond), order, seeds, matrices))
    return out
