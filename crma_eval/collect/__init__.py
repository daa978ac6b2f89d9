"""The collect stage: turn checkpoints + data into records, unit by unit, resumably.

A plugin that collects names a `Collector` class (dotted path in `Plugin.collector`). The
collector lists its units (plugin, checkpoint, arm, domain) and produces the records of one unit;
this module runs the units that the ledger does not mark complete and commits each atomically.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crma_eval.errors import InputError

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint
    from crma_eval.config import RunConfig
    from crma_eval.engine import EngineSession
    from crma_eval.store import RunDir


@dataclass(frozen=True)
class Unit:
    """The smallest resumable piece of collect work."""

    plugin: str
    checkpoint: str
    arm: str
    domain: str

    @property
    def key(self) -> str:
        """Stable ledger key of the unit."""
        return "|".join((self.plugin, self.checkpoint, self.arm, self.domain))


@dataclass
class CollectContext:
    """What collectors share: config, loaded checkpoints, one lazily built engine session."""

    config: RunConfig
    checkpoints: list[Checkpoint]
    run_dir: RunDir
    session_factory: Callable[[], EngineSession] | None = None
    _session: EngineSession | None = field(default=None, repr=False)

    def session(self) -> EngineSession:
        """The engine session (base model loaded once), created on first use."""
        if self._session is None:
            if self.session_factory is None:
                raise RuntimeError("no engine session factory configured")
            self._session = self.session_factory()
        return self._session

    def checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """The loaded checkpoint with this id."""
        for ckpt in self.checkpoints:
            if ckpt.id == checkpoint_id:
                return ckpt
        raise KeyError(checkpoint_id)


class Collector(Protocol):
    """A plugin's collect step."""

    def units(self, ctx: CollectContext) -> list[Unit]:
        """All units this plugin would collect for the run."""
        ...

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """Records (each with a declared `kind`, docs/records.md) of one unit."""
        ...


def load_collector(path: str) -> Collector:
    """Instantiate a collector from its dotted path `package.module:Class`."""
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)()


@dataclass
class UnitFailure:
    """A unit (or a whole plugin's plan, unit None) that failed on bad input; the rest went on."""

    unit: str | None
    problem: str
    plugin: str | None = None
    stage: str = "collect"

    def one_line(self) -> str:
        """`<stage> <plugin or unit>: <problem>` on one line (newlines folded)."""
        where = self.unit or f"plugin {self.plugin}"
        return " ".join(f"{self.stage} {where}: {self.problem}".split())


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


class Executor(Protocol):
    """Runs the units the ledger lacks and commits them into `ctx.run_dir` in plan order."""

    def run(
        self,
        collectors: dict[str, Collector],
        ctx: CollectContext,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> list[UnitFailure]:
        """Collect every unit not yet committed; return units that failed on bad input."""
        ...


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
    `executor` (crma_eval.executors) takes the units elsewhere, e.g. onto Ray actors; None runs
    them here, one after the other.
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
