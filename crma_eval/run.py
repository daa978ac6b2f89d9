"""`crma-eval run`: collect -> analyze -> report for real checkpoints, resumable via the ledger.

The run directory is locked for the whole run, checked to be one of ours before anything is
written, and collected unit by unit (a unit is kept on resume while its input fingerprint is
unchanged). Units and plugins that fail on bad input are listed; the rest still give results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crma_eval.analyze import analyze_paths
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.api.registry import plugins as installed_plugins
from crma_eval.checkpoint.basemodel import base_model_fingerprint
from crma_eval.collect import CollectContext, UnitFailure, collectors_of, plan_units, run_units
from crma_eval.collect.fingerprint import data_hash
from crma_eval.config import RunConfig
from crma_eval.errors import InputError
from crma_eval.results import load_results
from crma_eval.store import RunDir, write_json_atomic
from crma_eval.versions import library_versions

RUN_SCHEMA = "crma-eval/run/2"

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint
    from crma_eval.collect.executors import Executor


@dataclass
class RunOutcome:
    """What a run produced: where, which units/plugins failed, which files were written."""

    run_dir: RunDir
    failures: list[UnitFailure] = field(default_factory=list)
    wrote_results: bool = False
    wrote_report: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


def _provenance(config: RunConfig, checkpoints: list[Checkpoint]) -> dict[str, Any]:
    """run.json: the inputs of this run by absolute path and content hash (for people; the
    per-unit fingerprints in the ledger decide what is recomputed)."""
    files = config.data.paths()
    bases = {config.base_model} if config.base_model else {c.base_model for c in checkpoints}
    return {
        "schema": RUN_SCHEMA,
        "name": config.name,
        "config": str(Path(config.source).resolve()) if config.source else None,
        "config_hash": config.config_hash(),
        "base_models": {str(b): base_model_fingerprint(str(b)) for b in sorted(map(str, bases))},
        "checkpoints": {c.id: c.content_hash() for c in checkpoints},
        "data": {str(Path(p).resolve()): data_hash(p) for p in files},
        "versions": library_versions(),
    }


@contextmanager
def output_to_log(path: Path) -> Iterator[TextIO]:
    """Send everything written to file descriptors 1 and 2 (library logging, warnings, tqdm,
    subprocesses such as git) to `path`; yields a handle on the original stderr for progress."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", encoding="utf-8", errors="replace")
    try:
        with path.open("a", encoding="utf-8") as log:
            for fd in saved:
                os.dup2(log.fileno(), fd)
            try:
                yield terminal
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
    finally:
        for copy in saved.values():
            os.close(copy)
        terminal.close()


def _collect(
    config: RunConfig,
    checkpoints: list[Any],
    run: RunDir,
    quiet: bool,
    executor: Executor | None = None,
) -> list[UnitFailure]:
    """Run every unit not yet done (library output to RUN_DIR/logs/collect.log)."""
    collectors = collectors_of(config)
    ctx = CollectContext.from_config(config, run, checkpoints)
    plan, failures = plan_units(collectors, ctx)
    if not plan and not failures:
        raise InputError(
            "nothing to collect: no configured plugin has units for these checkpoints and data;"
            " check `plugins`, `data` and the checkpoints' manifests",
            path=config.source,
        )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with output_to_log(run.logs_dir / "collect.log") as terminal:
        console = Console(file=terminal, quiet=quiet)
        with Progress(*columns, TimeElapsedColumn(), console=console, disable=quiet) as progress:
            task = progress.add_task("collect", total=len(plan))

            def show(key: str, done: int, total: int) -> None:
                progress.update(task, description=f"collect {key}", completed=done - 1)

            failures = run_units(collectors, ctx, on_progress=show, executor=executor)
            progress.update(task, description="collect done", completed=len(plan))
    return failures


def run_config(
    config: RunConfig,
    out: Path,
    quiet: bool = False,
    limit: int | None = None,
    executor: Executor | None = None,
    report: bool = True,
) -> RunOutcome:
    """Collect every unit not yet done, then analyze and (unless `report` is False) render the
    report.

    Raises InputError (exit 2, nothing lost) when OUT is in use by another process, is not a run
    directory of ours, or nothing can be collected. `limit` overrides the config's `limit`;
    `executor` says where units run (crma_eval.collect.executors; None: here, one after the other).
    """
    from crma_eval.report.render import render_report

    if limit is not None:
        config.limit = limit
    with RunDir(out).locked() as run:
        run.recover()
        checkpoints = config.load_checkpoints()
        run.ensure()
        write_json_atomic(run.path / "run.json", _provenance(config, checkpoints))
        outcome = RunOutcome(run, _collect(config, checkpoints, run, quiet, executor))
        if not run.record_files():
            return outcome
        a = config.analysis
        options = AnalyzeOptions(
            a.confidence, a.ci_method, a.mcnemar_method, a.seed, config.options
        )
        meta = {
            "name": config.name,
            "config_hash": config.config_hash(),
            "config": str(Path(config.source).resolve()) if config.source else None,
            "failures": [f.__dict__ for f in outcome.failures],
        }
        path = analyze_paths(run.record_files(), run.path, options, meta=meta, partial=True)
        outcome.wrote_results = True
        results = load_results(path.parent)
        outcome.metrics = results["metrics"]
        outcome.failures = [UnitFailure(**f) for f in results["meta"]["failures"]]
        if report:
            render_report(run.path)
            outcome.wrote_report = True
    return outcome


HEADLINE = ("accuracy", "pvalue", "max_dev")


def headline_metrics(metrics: dict[str, Any], limit: int = 24) -> list[tuple[str, Any]]:
    """The metrics worth a glance after a run: accuracies, test p-values, mean drift, the largest
    spectral deviation. Per plugin and statistic only the broadest names (fewest segments: an
    arm's overall accuracy, not its per-domain ones), plugins in report order, at most `limit`."""
    wanted = [
        (name, value)
        for name, value in metrics.items()
        if name.rsplit(".", 1)[-1] in HEADLINE or name.endswith(".drift.mean")
    ]
    groups: dict[tuple[str, str], int] = {}
    for name, _ in wanted:
        key = (name.split(".", 1)[0], name.rsplit(".", 1)[-1])
        groups[key] = min(groups.get(key, 99), name.count("."))
    order = {name: i for i, name in enumerate(installed_plugins())}
    chosen = [
        (name, value)
        for name, value in wanted
        if name.count(".") == groups[(name.split(".", 1)[0], name.rsplit(".", 1)[-1])]
    ]
    chosen.sort(key=lambda item: order.get(item[0].split(".", 1)[0], len(order)))
    return chosen[:limit]
