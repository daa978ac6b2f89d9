"""Weights & Biases export: an offline W&B run under `OUT/wandb/offline-run-*` (no login).

Summary: each metric under its results.json name, its interval and n under `<name>/ci_low`,
`<name>/ci_high`, `<name>/n`. A table `crma_eval/metrics` (metric, value, ci_low, ci_high, n,
unit, interval, method). Config: `context.run_context` params; tags: none but the run name.
`wandb sync OUT/wandb/offline-run-*` uploads it later (the API key comes from the environment
then; this export never reads or writes one). No git, code, console or system-metrics capture.

`run.finish()` returns before W&B's service has written the run's transaction log (`run-*.wandb`;
seen with wandb 0.31: a 7-byte file right after `finish`), so when no other W&B run of the process
is active the export also ends the service (`wandb.teardown()`, which waits for it): the folder is
complete when the export returns. A caller with its own active run keeps its service; the log is
then complete when that service ends. The export's run is created beside any run of the
caller's (`reinit="create_new"`, wandb >= 0.19.10), which it neither finishes nor replaces as
`wandb.run`; its id is new each time (a `WANDB_RUN_ID` in the environment is not reused).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from crma_eval.export.context import RunContext
from crma_eval.export.rows import MetricRow

COLUMNS: list[str | int] = [
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "unit",
    "interval",
    "method",
]
INIT_TIMEOUT_S = 60.0


def summary(rows: list[MetricRow]) -> dict[str, float]:
    """The summary: values, bounds and n, each under its own key."""
    out: dict[str, float] = {}
    for row in rows:
        out[row.name] = row.value
        for part in ("ci_low", "ci_high", "n"):
            value = getattr(row, part)
            if value is not None:
                out[f"{row.name}/{part}"] = float(value)
    return out


def table_rows(rows: list[MetricRow]) -> list[list[Any]]:
    """The metrics table's rows, in COLUMNS order."""
    return [[r.name, r.value, r.ci_low, r.ci_high, r.n, r.unit, r.interval, r.method] for r in rows]


def export_wandb(rows: list[MetricRow], ctx: RunContext, out: Path, project: str) -> Path:
    """Write the offline run; returns its folder."""
    import wandb

    out.mkdir(parents=True, exist_ok=True)
    settings = wandb.Settings(
        mode="offline", silent=True, console="off", disable_git=True, save_code=False,
        x_disable_stats=True, x_disable_meta=True, init_timeout=INIT_TIMEOUT_S,
    )  # fmt: skip
    run = wandb.init(  # create_new: a run of the caller's is neither finished nor replaced
        project=project, name=ctx.name, dir=str(out), config=ctx.params, settings=settings,
        reinit="create_new", id=secrets.token_hex(4),  # a new run each time, never $WANDB_RUN_ID
    )  # fmt: skip
    try:
        run.log({"crma_eval/metrics": wandb.Table(columns=COLUMNS, data=table_rows(rows))})
        run.summary.update(summary(rows))
        folder = Path(run.dir).parent
    finally:
        run.finish()
        if _no_active_run():  # no run of the caller's: wait for the service to write the log
            wandb.teardown()
    return folder


def _no_active_run() -> bool:
    """True when no W&B run of this process is active, `wandb.run` or one created beside it
    (`reinit="create_new"`); False when wandb cannot tell (then the service is left running)."""
    from wandb.sdk import wandb_setup

    latest = getattr(wandb_setup.singleton(), "most_recent_active_run", None)
    return callable(latest) and latest() is None
