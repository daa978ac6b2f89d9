"""Work plan of a distributed collect: units grouped per loaded model, priced, largest first.

A group is the units one worker runs back to back with one base model loaded: all units of one
checkpoint (adapters are hot-swapped), except that every bench (lm-eval) task is a group of its
own. Groups go out longest-processing-time first (LPT; Graham 1969: within 4/3 of the optimal
makespan), each to whichever worker is free.

Cost of a unit, best source first:
1. measured: mean `seconds` of ledger entries with the same (plugin, arm, domain);
2. estimated: items × tokens of the unit's data files (whitespace tokens of every line), scaled to
   seconds by the plugin's measured seconds-per-token rate, else the rate over all plugins;
3. the bare estimate (all units on one scale when nothing has been measured yet). Bench units
   (lm-eval tasks, no local data) are priced at `NO_DATA_FACTOR` × the largest estimate, as a
   benchmark is far larger than one domain's holdout or QA file; other units without data
   (spectral: checkpoint weights only) at 1 token.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crma_eval.collect import CollectContext, Unit

BENCH = "bench"
NO_DATA_FACTOR = 10.0


@dataclass(frozen=True)
class Group:
    """Units run by one worker with one model loaded, in plan order; `cost` in seconds or tokens."""

    key: tuple[str, ...]
    units: tuple[Unit, ...]
    cost: float


def group_key(unit: Unit, base_model: str) -> tuple[str, ...]:
    """(base model, checkpoint), plus (arm, task) for a bench unit: its own group."""
    if unit.plugin == BENCH:
        return (base_model, unit.checkpoint, unit.arm, unit.domain)
    return (base_model, unit.checkpoint)


@functools.cache
def _tokens(path: Path) -> int:
    """items × tokens of a data file: whitespace-separated tokens over all its lines."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        return sum(len(line.split()) for line in fh)


def data_estimate(unit: Unit, ctx: CollectContext) -> float | None:
    """Tokens in the data files `unit` reads (its domain's per-domain files, its plugin's files).

    None when the unit reads no local data (an lm-eval task).
    """
    from crma_eval.api.registry import get_plugin

    data = ctx.config.data
    paths = []
    for name, shape in get_plugin(unit.plugin).data.items():
        path = data.per_domain(name).get(unit.domain) if shape == "per_domain" else data.file(name)
        if path is not None and Path(path).is_file():
            paths.append(Path(path))
    return float(sum(_tokens(p) for p in paths)) if paths else None


def _no_data(unit: Unit, largest: float) -> float:
    """Price of a unit without local data: a benchmark is large, anything else (spectral) tiny."""
    return NO_DATA_FACTOR * largest if unit.plugin == BENCH else 1.0


def unit_costs(
    units: list[Unit], ctx: CollectContext, ledger: Iterable[dict[str, Any]]
) -> dict[Unit, float]:
    """Cost of each of `units`, the whole plan (see the module docstring for the sources).

    `ledger`: entries of committed units; those with `seconds` are the measurements.
    """
    estimates = {u: data_estimate(u, ctx) for u in units}
    largest = max((e for e in estimates.values() if e is not None), default=1.0)
    guess = {u: _no_data(u, largest) if e is None else e for u, e in estimates.items()}
    measured = {e["unit"]: float(e["seconds"]) for e in ledger if "seconds" in e}
    same: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    rate: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # plugin -> [seconds, tokens]
    for u in units:
        if u.key in measured:
            same[(u.plugin, u.arm, u.domain)].append(measured[u.key])
            rate[u.plugin][0] += measured[u.key]
            rate[u.plugin][1] += guess[u]
    overall = [sum(r[0] for r in rate.values()), sum(r[1] for r in rate.values())]
    costs = {}
    for u in units:
        times = same.get((u.plugin, u.arm, u.domain))
        secs, toks = rate.get(u.plugin, overall)
        if times:
            costs[u] = sum(times) / len(times)
        elif toks > 0:
            costs[u] = guess[u] * secs / toks
        else:
            costs[u] = guess[u]
    return costs


def make_groups(
    units: list[Unit], ctx: CollectContext, plan: list[Unit], ledger: Iterable[dict[str, Any]]
) -> list[Group]:
    """Groups of `units` (pending, plan order inside a group), largest total cost first.

    `plan`: every unit of the run (prices come from the committed ones). Ties keep plan order,
    so the plan is deterministic for the same inputs.
    """
    costs = unit_costs(plan, ctx, ledger)
    bases = {ck.id: ck.manifest.base_model for ck in ctx.checkpoints}
    default_base = ctx.config.base_model or ""
    members: dict[tuple[str, ...], list[Unit]] = {}
    for u in units:
        members.setdefault(group_key(u, bases.get(u.checkpoint, default_base)), []).append(u)
    groups = [Group(k, tuple(us), sum(costs[u] for u in us)) for k, us in members.items()]
    order = {g.key: i for i, g in enumerate(groups)}
    return sorted(groups, key=lambda g: (-g.cost, order[g.key]))
