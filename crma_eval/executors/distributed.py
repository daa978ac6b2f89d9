"""Engine-agnostic pieces of a distributed collect (no Ray import): resume plan and shard worker.

`prepare` recovers the run directory and every shard, merges what the shards already completed,
and only then lists the units still to compute, so a rerun after a kill never recomputes a
committed unit. `ShardWorker` is what each Ray actor holds: it refuses to run when its own
fingerprint of the inputs differs from `run.json`, and commits each unit to its shard.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crma_eval.errors import InputError
from crma_eval.shards import SHARDS, Merger, committed_units, recover_all, remove_stray_temporaries
from crma_eval.store import RunDir, write_json_atomic

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint
    from crma_eval.collect import CollectContext, Collector, Unit, UnitFailure
    from crma_eval.config import RunConfig


@dataclass
class Prepared:
    """A run directory ready for workers: shards merged, the units still to compute."""

    merger: Merger
    plan: list[tuple[str, Unit]]  # (collector name, unit), serial order
    pending: list[tuple[str, Unit]]
    ledger: list[dict[str, Any]]  # entries of the run and of every shard (for unit durations)

    def offer_shard(self, shard: RunDir, seen: set[str]) -> list[str]:
        """Stage the units `shard` committed since the last call (`seen` is updated)."""
        fresh = [u for k, u in committed_units(shard).items() if k not in seen]
        seen.update(u.key for u in fresh)
        self.merger.offer(fresh)
        return [u.key for u in fresh]


def prepare(collectors: dict[str, Collector], ctx: CollectContext) -> Prepared:
    """Recover run + shards, merge completed shard units first, then plan what the ledger lacks."""
    run = ctx.run_dir
    shards = recover_all(run)
    plan = [(name, unit) for name, c in collectors.items() for unit in c.units(ctx)]
    merger = Merger(run, [u.key for _, u in plan])
    ledger = run.ledger()
    for shard in shards:
        merger.offer(committed_units(shard).values())
        ledger += shard.ledger()
    merger.advance()
    done = merger.done()
    return Prepared(merger, plan, [(n, u) for n, u in plan if u.key not in done], ledger)


def check_fingerprint(run: RunDir, config: RunConfig, checkpoints: list[Checkpoint]) -> None:
    """Raise InputError unless this process's fingerprint of the inputs equals `run.json`.

    A worker on another node may see other checkpoint files, data or library versions; its
    records would then not be those of the run.
    """
    from crma_eval.run import _fingerprint

    path = run.path / "run.json"
    mine = json.loads(json.dumps(_fingerprint(config, checkpoints)))
    theirs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if mine != theirs:
        changed = sorted(k for k in mine if (theirs or {}).get(k) != mine[k])
        raise InputError(
            f"worker on {os.uname().nodename} (pid {os.getpid()}) sees other inputs than the run"
            f" ({', '.join(changed) or 'no run.json'} differ); give every node the same"
            " checkpoints, data and package versions",
            path=path,
        )


class ShardWorker:
    """Runs groups of units and commits each to its shard `RUN_DIR/shards/<name>/`.

    `worker.json` in the shard tells where it runs (`describe`), rewritten at each (re)start.

    Built again after a crash (Ray restarts the actor), it recovers its shard and skips every
    unit the shard already holds, so a retried group recomputes nothing committed.
    """

    def __init__(self, run_path: str, name: str, config: RunConfig) -> None:
        self.run = RunDir(run_path)
        self.name = name
        self.shard = RunDir(Path(run_path) / SHARDS / name).ensure()
        remove_stray_temporaries(self.shard)
        self.shard.recover()
        self.done = self.shard.completed_units()
        write_json_atomic(self.shard.path / "worker.json", self.describe())
        self.config = config
        self._ctx: CollectContext | None = None
        self._collectors: dict[str, Collector] = {}

    def _context(self) -> CollectContext:
        """Checkpoints, collectors and the engine session, after the fingerprint check."""
        if self._ctx is None:
            from crma_eval.collect import CollectContext
            from crma_eval.run import _collectors, _load_checkpoints, _session_factory

            checkpoints = _load_checkpoints(self.config)
            check_fingerprint(self.run, self.config, checkpoints)
            self._collectors = _collectors(self.config)
            factory = _session_factory(self.config, checkpoints)
            self._ctx = CollectContext(self.config, checkpoints, self.shard, factory)
        return self._ctx

    def describe(self) -> dict[str, Any]:
        """Where this worker runs: pid, node, shard and the GPUs it may see."""
        return {
            "pid": os.getpid(),
            "node": os.uname().nodename,
            "shard": self.name,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }

    def run_group(self, units: list[tuple[str, Unit]]) -> list[UnitFailure]:
        """Compute and commit each unit not yet in the shard; return those failing on bad input."""
        from crma_eval.collect import collect_unit

        ctx = self._context()
        failures = []
        for name, unit in units:
            if unit.key in self.done:
                continue
            failure = collect_unit(self._collectors[name], unit, ctx)
            if failure is None:
                self.done.add(unit.key)
            else:
                failures.append(failure)
        return failures
