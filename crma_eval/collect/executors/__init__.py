"""Executors of the collect stage: where the units of `crma-eval run` are computed.

The default (no executor) is the in-process loop of `crma_eval.collect.run_units`. An executor
object takes over that loop through `run_units(..., executor=...)`; it must leave the run
directory exactly as the serial loop would (records in plan order, one ledger entry per unit) and
return the failed units. `crma_eval.collect.executors.ray_exec.RayExecutor` spreads units over
Ray actors.
"""

from __future__ import annotations

from crma_eval.api.collect import Executor, Progress

__all__ = ["Executor", "Progress", "make_executor"]


def make_executor(name: str, address: str | None = None, workers: int | None = None,
                  gpus_per_worker: float | None = None, quiet: bool = False,
                  ) -> Executor | None:  # fmt: skip
    """The executor called `name` ("serial": None, the in-process loop; "ray": RayExecutor).

    Ray is imported only here, under "ray"; a missing install raises InputError naming the extra.
    """
    if name == "serial":
        return None
    from crma_eval.collect.executors.ray_exec import RayExecutor

    return RayExecutor(address, workers, gpus_per_worker, quiet=quiet)
