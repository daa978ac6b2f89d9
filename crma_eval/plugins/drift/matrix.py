"""Loss matrices L(p, d) of the drift plugin: domain orders, cell checks, per-seed numbers."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import InputError, first_row, where
from crma_eval.api import finite_number

# The bound of a percentage derived from losses (relative drift, learning advantage): Welch's
# degrees of freedom take fourth powers of the per-seed values, and (1e75)^4 stays finite in
# float64 (a drift of 1e82 % passed the record bound 1e100 and made scipy's df silently NaN).
MAX_PERCENT = 1e75
GROUP = ["condition", "seed"]
CELL = ["condition", "seed", "after_phase", "domain"]


@dataclass
class SeedRun:
    """One condition and seed: its domain order, loss matrix and the numbers derived from it."""

    condition: str
    seed: int
    order: tuple[str, ...]
    matrix: np.ndarray  # [phase - 1, domain position]; NaN where no record
    domain_drift: dict[str, float]
    drift: float
    holdout: float
    file: str | None = None  # the records' file, for errors about derived numbers


def bounded(value: float) -> bool:
    """Whether a derived percentage is finite and within ±MAX_PERCENT."""
    return finite_number(value, MAX_PERCENT)


def out_of_bound(what: str, **location: Any) -> InputError:
    """The error for a percentage derived from loss records (relative drift, learning advantage)
    beyond ±MAX_PERCENT: its statistics would overflow. `what` states the number and the losses
    it came from; `location`: InputError's path/line."""
    return InputError(
        f"{what}, beyond ±{MAX_PERCENT:g}: its statistics would overflow; check these losses",
        field="loss",
        **location,
    )


def _as_order(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(str(v) for v in value)
    return None


def _check_order(order: tuple[str, ...], **loc: Any) -> tuple[str, ...]:
    if len(order) < 2:
        raise InputError(
            "needs at least 2 domains (drift compares phases)", field="domain_order", **loc
        )
    if len(set(order)) != len(order):
        raise InputError(f"repeats a domain: {list(order)}", field="domain_order", **loc)
    return order


def domain_orders(loss: pd.DataFrame, option: Any) -> dict[tuple[str, int], tuple[str, ...]]:
    """The domain trained in each phase, per (condition, seed): from the option or the records."""
    groups = loss.groupby(GROUP, sort=False)
    if option is not None:
        order = _as_order(option)
        if order is None:
            raise InputError("options.drift.domain_order must be a list of domain names")
        _check_order(order)
        return {key: order for key in groups.groups}
    values = loss["domain_order"].map(_as_order) if "domain_order" in loss.columns else None
    if values is None or values.isna().all():
        raise InputError(
            "domain_order is needed to know which domain was trained in which phase: add it to "
            "the loss records (or, in a run config, set options.drift.domain_order)",
            field="domain_order",
            **where(loss.iloc[0]),
        )
    orders = {}
    for key, index in groups.indices.items():
        known = values.iloc[index].dropna()
        if known.empty:
            raise InputError(
                f"domain_order is needed for condition {key[0]!r}, seed {key[1]} (none of its "
                "loss records has it)",
                field="domain_order",
                **where(loss.iloc[index[0]]),
            )
        differs = known.map(lambda order, first=known.iloc[0]: order != first)
        if differs.any():
            row = loss.loc[differs[differs].index[0]]
            raise InputError(
                f"differs from the domain_order {list(known.iloc[0])} of other records of "
                f"condition {key[0]!r}, seed {key[1]}",
                field="domain_order",
                **where(row),
            )
        orders[key] = _check_order(known.iloc[0], **where(loss.loc[known.index[0]]))
    return orders


def check_cells(loss: pd.DataFrame, orders: dict[tuple[str, int], tuple[str, ...]]) -> None:
    """Reject two records for one cell and phases beyond the number of domains."""
    dup = loss.duplicated(CELL, keep="first")
    if dup.any():
        row = first_row(loss, dup)
        raise InputError(
            f"a second loss record for condition {row['condition']!r}, seed {row['seed']}, "
            f"after_phase {row['after_phase']}, domain {row['domain']!r}",
            **where(row),
        )
    phases = pd.Series(
        [len(orders[(c, s)]) for c, s in zip(loss["condition"], loss["seed"], strict=True)],
        index=loss.index,
    )
    beyond = loss["after_phase"] > phases
    if beyond.any():
        row = first_row(loss, beyond)
        raise InputError(
            f"after_phase {row['after_phase']} exceeds the {phases[row.name]} phases of "
            f"domain_order",
            field="after_phase",
            **where(row),
        )


def _cell(cells: pd.Series, group: pd.DataFrame, phase: int, domain: str) -> float:
    """L(phase, domain), or InputError naming what is missing."""
    value = cells.get((phase, domain))
    if value is None:
        row = group.iloc[0]
        raise InputError(
            f"missing loss for condition {row['condition']!r}, seed {row['seed']}, after_phase "
            f"{phase}, domain {domain!r} (needed for drift and final holdout)",
            path=row["_file"],
        )
    return float(value)


def seed_run(group: pd.DataFrame, order: tuple[str, ...]) -> SeedRun:
    """Drift per domain, mean drift over d = 1..T-1 and final holdout of one condition and seed."""
    cells = group.set_index(["after_phase", "domain"])["loss"]
    last = len(order)
    final = {d: _cell(cells, group, last, d) for d in order}
    domain_drift = {}
    for phase, domain in enumerate(order[:-1], start=1):
        trained = _cell(cells, group, phase, domain)
        if trained == 0:
            row = first_row(group, (group["after_phase"] == phase) & (group["domain"] == domain))
            raise InputError(
                "is 0 on the phase that trained this domain; relative drift is undefined",
                field="loss",
                **where(row),
            )
        drift = (final[domain] - trained) / trained * 100
        if not bounded(drift):
            row = first_row(group, (group["after_phase"] == phase) & (group["domain"] == domain))
            what = f"gives a relative drift of {drift:.3g} % (loss {final[domain]:.3g} after phase"
            raise out_of_bound(f"{what} {last} against {trained:.3g} here)", **where(row))
        domain_drift[domain] = drift
    matrix = np.full((last, last), np.nan)
    position = {d: i for i, d in enumerate(order)}
    known = group[group["domain"].isin(position)]
    matrix[known["after_phase"].to_numpy() - 1, known["domain"].map(position).to_numpy()] = known[
        "loss"
    ].to_numpy()
    row = group.iloc[0]
    return SeedRun(
        condition=row["condition"],
        seed=int(row["seed"]),
        order=order,
        matrix=matrix,
        domain_drift=domain_drift,
        drift=float(np.mean(list(domain_drift.values()))),
        holdout=float(np.mean(list(final.values()))),
        file=str(row["_file"]) if "_file" in group else None,
    )


def seed_runs(loss: pd.DataFrame, option: Any) -> list[SeedRun]:
    """Every (condition, seed) of the loss records, in order of first appearance."""
    orders = domain_orders(loss, option)
    check_cells(loss, orders)
    return [seed_run(group, orders[key]) for key, group in loss.groupby(GROUP, sort=False)]


def check_seeds(loss: pd.DataFrame, runs: list[SeedRun]) -> None:
    """Every condition must have the same seeds (the learning advantage pairs them)."""
    seeds: dict[str, set[int]] = {}
    for run in runs:
        seeds.setdefault(run.condition, set()).add(run.seed)
    union = set().union(*seeds.values())
    for condition, have in seeds.items():
        for seed in sorted(union - have):
            row = first_row(loss, loss["seed"] == seed)
            raise InputError(
                f"seed {seed} (condition {row['condition']!r}) has no loss records for condition "
                f"{condition!r}; conditions are compared seed by seed, so they need the same seeds",
                field="seed",
                **where(row),
            )


def check_phases(runs: list[SeedRun]) -> None:
    """Every seed of one condition must train the same domains in the same number of phases T.

    Otherwise drift and final holdout would average a T = 4 run with a T = 5 one. InputError
    naming the condition, the seeds and their T (and domain sets when those differ).
    """
    by_condition: dict[str, list[SeedRun]] = {}
    for run in runs:
        by_condition.setdefault(run.condition, []).append(run)
    for condition, group in by_condition.items():
        first = group[0]
        for run in group[1:]:
            if len(run.order) == len(first.order) and set(run.order) == set(first.order):
                continue
            raise InputError(
                f"condition {condition!r} mixes seeds with different phases: seed {first.seed} "
                f"has T = {len(first.order)} ({', '.join(first.order)}), seed {run.seed} has "
                f"T = {len(run.order)} ({', '.join(run.order)}); analyse them as separate "
                "conditions or complete the shorter run",
                field="domain_order",
            )


def mean_matrix(runs: list[SeedRun]) -> tuple[np.ndarray, list[str]]:
    """Seed-averaged loss matrix of one condition and its column labels."""
    size = max(len(r.order) for r in runs)
    stack = np.full((len(runs), size, size), np.nan)
    for i, run in enumerate(runs):
        stack[i, : run.matrix.shape[0], : run.matrix.shape[1]] = run.matrix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells stay NaN
        mean = np.nanmean(stack, axis=0)
    same = all(r.order == runs[0].order for r in runs)
    labels = list(runs[0].order) if same else [f"phase {i + 1} domain" for i in range(size)]
    return mean, labels
