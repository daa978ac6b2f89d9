"""`crma-eval run`: collect -> analyze -> report for real checkpoints, resumable via the ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crma_eval.analyze import analyze_paths, versions
from crma_eval.collect import CollectContext, Collector, UnitFailure, load_collector, run_units
from crma_eval.config import RunConfig
from crma_eval.errors import InputError
from crma_eval.plugins.base import AnalyzeOptions
from crma_eval.registry import get_plugin
from crma_eval.store import RunDir, file_sha256, write_json_atomic

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint
    from crma_eval.engine import EngineSession
    from crma_eval.executors import Executor


@dataclass
class RunOutcome:
    """What a run produced: where, and which units failed on bad input."""

    run_dir: RunDir
    failures: list[UnitFailure] = field(default_factory=list)


def _fingerprint(config: RunConfig, checkpoints: list[Checkpoint]) -> dict[str, Any]:
    """Everything that changes collected answers; a resumed run must match it exactly."""
    data_files = config.data.paths()
    return {
        "config_hash": config.config_hash(),
        "checkpoints": {c.id: c.content_hash() for c in checkpoints},
        "data": {str(p): file_sha256(p) for p in data_files if Path(p).is_file()},
        "versions": versions(),
    }


def _check_resume(run: RunDir, fingerprint: dict[str, Any]) -> None:
    """Refuse to resume into a run directory made from other inputs (its records would mix)."""
    path = run.path / "run.json"
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != fingerprint and run.completed_units():
            changed = sorted(k for k in fingerprint if previous.get(k) != fingerprint[k])
            raise InputError(
                f"run directory holds results of different inputs ({', '.join(changed)} changed);"
                " use a fresh --out",
                path=path,
            )
    write_json_atomic(path, fingerprint)


def _collectors(config: RunConfig) -> dict[str, Collector]:
    found = {}
    for name in config.plugins:
        plugin = get_plugin(name)
        if plugin.collector:
            found[name] = load_collector(plugin.collector)
    return found


def _load_checkpoints(config: RunConfig) -> list[Checkpoint]:
    from crma_eval.checkpoint import load_checkpoint

    paths = config.checkpoint_paths()
    if not paths:
        raise InputError(
            "no checkpoints: set `checkpoints` or `checkpoint_glob`", path=config.source
        )
    return [load_checkpoint(p) for p in paths]


def _session_factory(
    config: RunConfig, checkpoints: list[Checkpoint]
) -> Callable[[], EngineSession]:
    def make() -> EngineSession:
        from crma_eval.engine import EngineSession

        base = config.base_model or checkpoints[0].base_model
        return EngineSession(base, config.engine)

    return make


def run_config(
    config: RunConfig, out: Path, quiet: bool = False, executor: Executor | None = None
) -> RunOutcome:
    """Collect every unit not yet done, then analyze and render the report.

    `executor`: where units run (crma_eval.executors; None: here, one after the other).
    """
    from crma_eval.report.render import render_report

    console = Console(stderr=True, quiet=quiet)
    run = RunDir(out).ensure()
    checkpoints = _load_checkpoints(config)
    _check_resume(run, _fingerprint(config, checkpoints))
    ctx = CollectContext(config, checkpoints, run, _session_factory(config, checkpoints))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, disable=quiet) as progress:
        task = progress.add_task("collect", total=None)

        def show(key: str, done: int, total: int) -> None:
            progress.update(task, description=f"collect {key}", completed=done - 1, total=total)

        failures = run_units(_collectors(config), ctx, on_progress=show, executor=executor)
        progress.update(task, description="collect done", completed=progress.tasks[0].total)
    for failure in failures:
        console.print(f"[yellow]unit failed[/]: {failure.unit}: {failure.problem}")
    a = config.analysis
    options = AnalyzeOptions(a.confidence, a.ci_method, a.mcnemar_method, a.seed, config.options)
    meta = {
        "config_hash": config.config_hash(),
        "config": str(config.source) if config.source else None,
        "failures": [f.__dict__ for f in failures],
    }
    if run.record_files():
        analyze_paths(run.record_files(), run.path, options, meta=meta)
        render_report(run.path)
    return RunOutcome(run, failures)
