"""`crma-eval run --executor ray`: units on Ray actors, one per GPU, merged in plan order.

The driver (this process) merges shard units already completed, plans the rest as groups
(`plan.make_groups`, largest first), starts one `ShardWorker` actor per worker (`num_gpus=k`;
Ray sets each actor's CUDA_VISIBLE_DEVICES), hands each free actor the next group, and while
they run copies finished units from their shards into the run directory in plan order. An actor
that dies is restarted by Ray and the group retried (`max_restarts`, `max_task_retries`); the new
actor skips what its shard already holds. Without `address` a private local cluster is started
(never `address="auto"`, which could join someone else's cluster).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crma_eval.collect.executors.distributed import Prepared, ShardWorker, prepare
from crma_eval.collect.executors.plan import Group, make_groups
from crma_eval.collect.shards import SHARDS, new_shard_names
from crma_eval.errors import InputError
from crma_eval.store import RunDir

if TYPE_CHECKING:
    from crma_eval.api.collect import CollectContext, Collector, Progress, UnitFailure

POLL_S = 0.5
LOOPBACK = "127.0.0.1"
RESTARTS = 3  # per actor: a worker that keeps dying is a bug or a bad node, not bad luck
# Passed to workers of a cluster we join (a private cluster inherits this process's environment).
FORWARDED_ENV = ("HF_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE",
                 "TQDM_DISABLE", "TRANSFORMERS_VERBOSITY", "TOKENIZERS_PARALLELISM")  # fmt: skip


def import_ray() -> Any:
    """The `ray` module, or InputError naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise InputError(
            "--executor ray needs Ray: pip install 'crma-eval[ray]'", field="--executor"
        ) from None
    return ray


@dataclass
class RayExecutor:
    """Collect on Ray actors. `workers`: actors [GPUs // k, or CPUs // threads without GPUs];
    `gpus_per_worker` (k): GPUs per actor [1 with GPUs, else 0]; `address`: cluster to join;
    `local_gpus`: GPU count a private cluster declares (None: detected; tests fake it)."""

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    local_gpus: int | None = None
    quiet: bool = False
    actors_info: list[dict[str, Any]] = field(default_factory=list)

    def run(
        self,
        collectors: dict[str, Collector],
        ctx: CollectContext,
        on_progress: Progress | None = None,
    ) -> list[UnitFailure]:
        """Merge finished shard units, run the rest on actors, merge in plan order.

        Returns the plan's, the fingerprints' and the units' failures (units in plan order).
        Raises InputError when a worker sees other inputs than the driver (exit 2).
        """
        prepared = prepare(collectors, ctx)
        if not prepared.pending:
            return prepared.failures
        ray = import_ray()
        started = self._connect(ray)
        try:
            k, n, threads = self._shape(ray, ctx)
            groups = make_groups([u for _, u in prepared.pending], ctx,
                                 [u for _, u in prepared.plan], prepared.ledger)  # fmt: skip
            names = new_shard_names(ctx.run_dir, min(n, len(groups)))
            remote = ray.remote(ShardWorker).options(
                num_gpus=k, num_cpus=threads, max_restarts=RESTARTS, max_task_retries=RESTARTS
            )
            path = str(ctx.run_dir.path)
            actors = {name: remote.remote(path, name, ctx.config) for name in names}
            self.actors_info = ray.get([a.describe.remote() for a in actors.values()])
            failed = _Dispatch(ray, prepared, groups, actors, ctx.run_dir, on_progress).loop()
            order = {u.key: i for i, (_, u) in enumerate(prepared.plan)}
            return prepared.failures + sorted(failed, key=lambda f: order.get(f.unit or "", -1))
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join `address`, or start a private local cluster; True when we started it."""
        if ray.is_initialized():
            return False
        level = logging.ERROR if self.quiet else logging.WARNING
        common = {"logging_level": level, "log_to_driver": False, "include_dashboard": False}
        if self.address:
            env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
            ray.init(address=self.address, runtime_env={"env_vars": env} if env else None,
                     **common)  # fmt: skip
        else:
            restore = loopback_only()
            try:
                ray.init(num_cpus=os.cpu_count() or 1, num_gpus=self.local_gpus,
                         _node_ip_address=LOOPBACK, **common)  # fmt: skip
            finally:
                restore()
        return True

    def _shape(self, ray: Any, ctx: CollectContext) -> tuple[float, int, int]:
        """(GPUs per actor k, actors n, CPUs per actor); InputError when the cluster lacks them."""
        resources = ray.cluster_resources()
        gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 0))
        k = self.gpus_per_worker if self.gpus_per_worker is not None else (1.0 if gpus else 0.0)
        threads = ctx.config.engine.threads or 1
        n = self.workers or max(1, int(gpus // k) if k else int(cpus // threads))
        if k > 1 and ctx.config.engine.device_map is None:
            raise InputError("a worker with k > 1 GPUs needs engine.device_map (e.g. auto)",
                             path=ctx.config.source, field="engine.device_map")  # fmt: skip
        if n * k > gpus or n * threads > cpus:
            raise InputError(
                f"{n} workers × ({k:g} GPU, {threads} CPU) do not fit the cluster"
                f" ({gpus:g} GPU, {cpus:g} CPU); lower --workers or engine.threads",
                field="--workers",
            )
        return k, n, threads


@dataclass
class _Dispatch:
    """The driver's loop: free actor -> next largest group; merge shard units as they land."""

    ray: Any
    prepared: Prepared
    groups: list[Group]
    actors: dict[str, Any]
    run: RunDir
    on_progress: Progress | None
    failures: list[UnitFailure] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)

    def loop(self) -> list[UnitFailure]:
        """Run every group; return failed units. Raises the first worker error (InputError)."""
        queue = list(self.groups)
        idle = list(self.actors)
        running: dict[Any, str] = {}
        try:
            while queue or running:
                while queue and idle:
                    name, group = idle.pop(0), queue.pop(0)
                    jobs = self.prepared.jobs(group.units)
                    running[self.actors[name].run_group.remote(jobs)] = name
                ready, _ = self.ray.wait(list(running), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    idle.append(running.pop(ref))
                    self._finished(ref)
                self._poll()
        finally:
            for actor in self.actors.values():
                self.ray.kill(actor)
        self._poll()
        merger = self.prepared.merger
        if merger.cursor != len(merger.plan):
            missing = merger.plan[merger.cursor]
            raise RuntimeError(f"unit {missing} neither committed nor failed (a bug)")
        return self.failures

    def _finished(self, ref: Any) -> None:
        """Collect a group's failures; a worker's InputError (e.g. fingerprint) is raised here."""
        try:
            failures = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, InputError):
                raise InputError(exc.cause.problem, path=exc.cause.path) from None
            raise
        for failure in failures:
            self.prepared.merger.skip(failure.unit)
        self.failures += failures

    def _poll(self) -> None:
        """Stage what each shard committed since the last poll, merge, report progress."""
        label = ""
        for name in self.actors:
            shard = RunDir(self.run.path / SHARDS / name)
            fresh = self.prepared.offer_shard(shard, self.seen.setdefault(name, set()))
            label = f"{name}: {fresh[-1]}" if fresh else label
        merger = self.prepared.merger
        merger.advance()
        if self.on_progress is not None and label:
            plan = set(merger.plan)
            resolved = len(merger.done() & plan) + len(merger.skipped)
            self.on_progress(label, resolved + 1, len(plan))


def loopback_only() -> Callable[[], None]:
    """Make the private cluster's node address 127.0.0.1, so its GCS server, raylet and agents
    listen on loopback only (no unauthenticated Ray port on any network interface).

    Ray turns a loopback `_node_ip_address` into the machine's network address
    (ray._private.services.resolve_ip_for_localhost); for a cluster only this machine uses, the
    lookup is pointed at 127.0.0.1 while it runs. Returns the function that undoes it.
    """
    from ray._private import services

    saved = (services.get_node_ip_address, services.resolve_ip_for_localhost)
    services.get_node_ip_address = lambda *args, **kwargs: LOOPBACK
    services.resolve_ip_for_localhost = lambda host: LOOPBACK

    def restore() -> None:
        services.get_node_ip_address, services.resolve_ip_for_localhost = saved

    return restore
