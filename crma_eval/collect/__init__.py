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
    from crma_eval.executors import Executor
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
        """Records (DESIGN.md kinds, each with `kind`) of one unit."""
        ...


def load_collector(path: str) -> Collector:
    """Instantiate a collector from its dotted path `package.module:Class`."""
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)()


@dataclass
class UnitFailure:
    """A unit that failed on bad input; the rest of the run went on."""

    unit: str
    problem: str


def collect_unit(collector: Collector, unit: Unit, ctx: CollectContext) -> UnitFailure | None:
    """Run one unit and commit it to `ctx.run_dir` with its duration (`seconds`, wall clock).

    Bad input (InputError) is returned as a UnitFailure and nothing is committed.
    """
    start = time.perf_counter()
    try:
        records = collector.run(unit, ctx)
    except InputError as exc:
        return UnitFailure(unit.key, exc.one_line())
    seconds = round(time.perf_counter() - start, 3)
    ctx.run_dir.commit_unit(unit.key, records, plugin=unit.plugin, seconds=seconds)
    return None


def run_units(
    collectors: dict[str, Collector],
    ctx: CollectContext,
    on_progress: Callable[[str, int, int], None] | None = None,
    executor: Executor | None = None,
) -> list[UnitFailure]:
    """Run every unit not yet in the ledger; bad input in one unit is recorded, not fatal.

    `executor` (crma_eval.executors) takes the units elsewhere, e.g. onto Ray actors; None runs
    them here, one after the other.
    """
    if executor is not None:
        return executor.run(collectors, ctx, on_progress)
    ctx.run_dir.recover()
    done = ctx.run_dir.completed_units()
    plan = [(name, unit) for name, c in collectors.items() for unit in c.units(ctx)]
    failures: list[UnitFailure] = []
    for i, (name, unit) in enumerate(plan, start=1):
        if on_progress is not None:
            on_progress(unit.key, i, len(plan))
        if unit.key in done:
            continue
        failure = collect_unit(collectors[name], unit, ctx)
        if failure is not None:
            failures.append(failure)
    return failures
