"""The collect stage: turn checkpoints + data into records, unit by unit, resumably.

A plugin that collects names a `Collector` class (dotted path in `Plugin.collector`). The
collector lists its units (plugin, checkpoint, arm, domain) and produces the records of one unit;
this module runs the units that the ledger does not mark complete and commits each atomically.

The package holds everything collect and resume need: data readers (`data`), input fingerprints
(`fingerprint`), shards of a distributed run (`shards`) and the executors (`executors`). The
contract collectors implement lives in crma_eval.api.collect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from crma_eval.api.collect import (
    CollectContext,
    Collector,
    Executor,
    Progress,
    Unit,
    UnitFailure,
)
from crma_eval.api.registry import get_plugin
from crma_eval.errors import InputError

if TYPE_CHECKING:
    from crma_eval.config import RunConfig

__all__ = [
    "CollectContext",
    "Collector",
    "Executor",
    "Progress",
    "Unit",
    "UnitFailure",
    "collect_unit",
    "collectors_of",
    "fingerprinted_plan",
    "plan_units",
    "run_units",
]


def collectors_of(config: RunConfig) -> dict[str, Collector]:
    """The collectors of the configured plugins, by plugin name; an unknown plugin is an
    InputError naming its config line."""
    found = {}
    for index, name in enumerate(config.plugins):
        try:
            plugin = get_plugin(name)
        except InputError as exc:
            raise config.error(
                f"{exc.problem}; fix the name or install the plugin", ("plugins", index)
            ) from None
        collector = plugin.load_collector()
        if collector is not None:
            found[name] = collector
    return found


def plan_units(
    collectors: dict[str, Collector], ctx: CollectContext
) -> tuple[list[tuple[str, Unit]], list[UnitFailure]]:
    """Every (plugin, unit) of the run; a plugin whose plan fails on bad input is a failure."""
    plan: list[tuple[str, Unit]] = []
    failures: list[UnitFailure] = []
    for name, collector in collectors.items():
        try:
            plan += [(name, unit) for unit in collector.units(ctx)]
        except InputError as exc:
            failures.append(UnitFailure(None, exc.one_line(), plugin=name))
    return plan, failures


def fingerprinted_plan(
    collectors: dict[str, Collector], ctx: CollectContext
) -> tuple[list[tuple[str, Unit]], dict[str, str], list[UnitFailure]]:
    """`plan_units` plus each unit's input fingerprint (`collect.fingerprint.unit_fingerprint`),
    keyed by unit key; a unit whose fingerprint fails on bad input is a failure, without one."""
    from crma_eval.collect.fingerprint import unit_fingerprint

    plan, failures = plan_units(collectors, ctx)
    fps: dict[str, str] = {}
    for name, unit in plan:
        try:
            fps[unit.key] = unit_fingerprint(collectors[name], unit, ctx)
        except InputError as exc:
            failures.append(UnitFailure(unit.key, exc.one_line(), plugin=name))
    return plan, fps, failures


def collect_unit(
    collector: Collector, unit: Unit, ctx: CollectContext, fp: str
) -> UnitFailure | None:
    """Run one unit and commit it to `ctx.run_dir` with its input fingerprint `fp` and its
    duration (`seconds`, wall clock).

    Bad input (InputError, an invalid record included) is returned as a UnitFailure and nothing
    is committed.
    """
    start = time.perf_counter()
    try:
        records = collector.run(unit, ctx)
        seconds = round(time.perf_counter() - start, 3)
        ctx.run_dir.commit_unit(unit.key, records, fp=fp, plugin=unit.plugin, seconds=seconds)
    except InputError as exc:
        return UnitFailure(unit.key, exc.one_line(), plugin=unit.plugin)
    return None


def run_units(
    collectors: dict[str, Collector],
    ctx: CollectContext,
    on_progress: Callable[[str, int, int], None] | None = None,
    executor: Executor | None = None,
) -> list[UnitFailure]:
    """Run every unit whose records are not in the ledger with its current fingerprint.

    A completed unit whose inputs changed (fingerprint differs) has its records dropped and is
    recomputed; units no longer planned keep their records. Bad input in one unit is recorded as
    a failure, not fatal. Raises InputError when the run directory is not one of ours.
    `executor` (crma_eval.collect.executors) takes the units elsewhere, e.g. onto Ray actors; None
    runs them here, one after the other.
    """
    if executor is not None:
        return executor.run(collectors, ctx, on_progress)
    ctx.run_dir.recover()
    plan, fps, failures = fingerprinted_plan(collectors, ctx)
    done = ctx.run_dir.fingerprints()
    ctx.run_dir.drop_units({key for key, fp in fps.items() if key in done and done[key] != fp})
    for i, (name, unit) in enumerate(plan, start=1):
        if on_progress is not None:
            on_progress(unit.key, i, len(plan))
        if unit.key not in fps or done.get(unit.key) == fps[unit.key]:
            continue
        failure = collect_unit(collectors[name], unit, ctx, fps[unit.key])
        if failure is not None:
            failures.append(failure)
    return failures
