"""Engine-agnostic pieces of a distributed collect (no Ray import): resume plan and shard worker.

`prepare` recovers the run directory and every shard, fingerprints the plan exactly as the serial
loop does (`collect.fingerprinted_plan`), drops units whose inputs changed, merges what the shards
already completed with the current fingerprints, and only then lists the units still to compute,
so a rerun after a kill never recomputes a committed unit. `ShardWorker` is what each Ray actor
holds: it refuses a unit whose fingerprint it computes differently from the driver, and commits
each unit to its shard with the driver's fingerprint.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crma_eval.collect.shards import (
    SHARDS,
    Merger,
    UnitBytes,
    committed_units,
    recover_all,
    remove_stray_temporaries,
)
from crma_eval.errors import InputError
from crma_eval.store import RunDir, write_json_atomic

if TYPE_CHECKING:
    from crma_eval.collect import CollectContext, Collector, Unit, UnitFailure
    from crma_eval.config import RunConfig

Job = tuple[str, "Unit", str]
"""One unit for a worker: (collector name, unit, the driver's input fingerprint of the unit)."""


def current_units(shard: RunDir, fps: dict[str, str]) -> dict[str, UnitBytes]:
    """Units `shard` committed with the fingerprint the plan has now (stale or unplanned: out)."""
    return {
        key: unit
        for key, unit in committed_units(shard).items()
        if key in fps and unit.info.get("fp") == fps[key]
    }


@dataclass
class Prepared:
    """A run directory ready for workers: shards merged, the units still to compute."""

    merger: Merger
    plan: list[tuple[str, Unit]]  # (collector name, unit), serial order
    fps: dict[str, str]  # unit key -> input fingerprint (units whose fingerprint failed: absent)
    pending: list[tuple[str, Unit]]
    ledger: list[dict[str, Any]]  # entries of the run and of every shard (for unit durations)
    failures: list[UnitFailure] = field(default_factory=list)  # plan and fingerprint failures

    def offer_shard(self, shard: RunDir, seen: set[str]) -> list[str]:
        """Stage the units `shard` committed since the last call (`seen` is updated)."""
        fresh = [u for k, u in current_units(shard, self.fps).items() if k not in seen]
        seen.update(u.key for u in fresh)
        self.merger.offer(fresh)
        return [u.key for u in fresh]

    def jobs(self, units: tuple[Unit, ...]) -> list[Job]:
        """The jobs of pending `units` (collector name and fingerprint added)."""
        names = {u.key: n for n, u in self.pending}
        return [(names[u.key], u, self.fps[u.key]) for u in units]


def prepare(collectors: dict[str, Collector], ctx: CollectContext) -> Prepared:
    """Recover run + shards, drop units whose inputs changed, merge completed shard units with
    the current fingerprints, then plan what the ledger lacks.

    Raises InputError when the run directory or a shard is not one of ours, or a unit was
    committed twice with different records (`shards.ShardConflict`).
    """
    from crma_eval.collect import fingerprinted_plan

    run = ctx.run_dir
    shards = recover_all(run)
    plan, fps, failures = fingerprinted_plan(collectors, ctx)
    done = run.fingerprints()
    run.drop_units({key for key, fp in fps.items() if key in done and done[key] != fp})
    merger = Merger(run, [u.key for _, u in plan])
    for _, unit in plan:
        if unit.key not in fps:  # failed: its old records stay, as in the serial loop
            merger.skip(unit.key)
    ledger = run.ledger()
    for shard in shards:
        merger.offer(current_units(shard, fps).values())
        ledger += shard.ledger()
    merger.advance()
    have = merger.done()
    pending = [(n, u) for n, u in plan if u.key in fps and u.key not in have]
    return Prepared(merger, plan, fps, pending, ledger, failures)


def check_fingerprints(collectors: dict[str, Collector], ctx: CollectContext,
                       jobs: list[Job]) -> None:  # fmt: skip
    """Raise InputError unless this process fingerprints each unit of `jobs` as the driver did.

    A worker on another node may see other checkpoint files, data, base model or library
    versions; its records would then not be those of the run.
    """
    from crma_eval.collect.fingerprint import unit_fingerprint

    for name, unit, fp in jobs:
        if unit_fingerprint(collectors[name], unit, ctx) != fp:
            raise InputError(
                f"worker on {os.uname().nodename} (pid {os.getpid()}) sees other inputs than the"
                f" driver for unit {unit.key} (input fingerprints differ); give every node the"
                " same checkpoints, data, base model and package versions",
                path=ctx.config.source,
            )


class ShardWorker:
    """Runs groups of units and commits each to its shard `RUN_DIR/shards/<name>/`.

    `worker.json` in the shard tells where it runs (`describe`), rewritten at each (re)start. The
    worker holds the shard's lock while it lives, so a driver never recovers a shard under it.

    Built again after a crash (Ray restarts the actor), it recovers its shard and skips every
    unit the shard already holds, so a retried group recomputes nothing committed.
    """

    def __init__(self, run_path: str, name: str, config: RunConfig) -> None:
        self.name = name
        self.shard = RunDir(Path(run_path) / SHARDS / name)
        self._lock = ExitStack()
        self._lock.enter_context(self.shard.locked())
        self.shard.ensure()
        remove_stray_temporaries(self.shard)
        self.shard.recover()
        self.done = self.shard.completed_units()
        write_json_atomic(self.shard.path / "worker.json", self.describe())
        self.config = config
        self._ctx: CollectContext | None = None
        self._collectors: dict[str, Collector] = {}

    def _context(self) -> CollectContext:
        """Checkpoints, collectors and the engine session (built on first use)."""
        if self._ctx is None:
            from crma_eval.collect import CollectContext, collectors_of

            self._ctx = CollectContext.from_config(self.config, self.shard)
            self._collectors = collectors_of(self.config)
        return self._ctx

    def describe(self) -> dict[str, Any]:
        """Where this worker runs: pid, node, shard and the GPUs it may see."""
        return {
            "pid": os.getpid(),
            "node": os.uname().nodename,
            "shard": self.name,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }

    def run_group(self, jobs: list[Job]) -> list[UnitFailure]:
        """Check the fingerprints of `jobs`, then compute and commit each unit not yet in the
        shard with the driver's fingerprint; return those failing on bad input.

        Raises InputError (nothing committed) when a fingerprint differs from the driver's.
        """
        from crma_eval.collect import collect_unit

        ctx = self._context()
        check_fingerprints(self._collectors, ctx, jobs)
        failures = []
        for name, unit, fp in jobs:
            if unit.key in self.done:
                continue
            failure = collect_unit(self._collectors[name], unit, ctx, fp)
            if failure is None:
                self.done.add(unit.key)
            else:
                failures.append(failure)
        return failures
