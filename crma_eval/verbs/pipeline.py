"""The pipeline verbs: `demo`, `run`, `tasks-path`, `init`, `analyze`, `report`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crma_eval.verbs.common import EXIT_BAD_INPUT, echo_error, echo_json, hush_libraries


@click.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports/demo"), show_default=True
)
@click.option("--small", is_flag=True, help="A quick demo (fewer seeds and steps), for tests.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def demo(out: Path, small: bool, quiet: bool) -> None:
    """Build the embedded demo (train NAIVE/FROZEN/MODULAR), evaluate it, render the report."""
    if quiet:
        hush_libraries()
    from crma_eval.demo.run import run_demo

    summary = run_demo(out, small=small, quiet=quiet)
    click.echo(summary)


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory [config's out, else reports/NAME].",
)
@click.option(
    "--quiet",
    is_flag=True,
    help="No progress bars or library logs; failures, headline metrics and paths still print.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most N QA items / holdout texts per domain (overrides the config's `limit`).",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "ray"]),
    default="serial",
    show_default=True,
    help="Where units run: here, or on Ray actors (pip install 'crma-eval[ray]').",
)
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="Render report.html (--no-report: results.json only, e.g. for a CI gate).",
)
@click.option("--ray-address", default=None, help="Ray cluster to join [a private local one].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Ray actors [GPUs/k].")
@click.option(
    "--gpus-per-worker",
    type=click.FloatRange(min=0),
    default=None,
    help="GPUs per actor, k (>1 needs engine.device_map) [1 if the cluster has GPUs, else 0].",
)
def run(
    config: Path,
    out: Path | None,
    quiet: bool,
    limit: int | None,
    executor: str,
    report: bool,
    ray_address: str | None,
    workers: int | None,
    gpus_per_worker: float | None,
) -> None:
    """Collect + analyze + report for the checkpoints and data named in CONFIG.yaml.

    Exit 2 when any unit or plugin failed: results and report are still written for the rest.
    """
    if quiet:
        hush_libraries()
    from crma_eval.collect.executors import make_executor
    from crma_eval.config import load_config
    from crma_eval.run import headline_metrics, run_config

    cfg = load_config(config)
    out = out or cfg.out or Path("reports") / cfg.name
    chosen = make_executor(executor, ray_address, workers, gpus_per_worker, quiet)
    outcome = run_config(cfg, out, quiet=quiet, limit=limit, executor=chosen, report=report)
    for failure in outcome.failures:
        echo_error(failure.one_line())
    for name, value in headline_metrics(outcome.metrics):
        click.echo(f"{name:<48} {'n/a' if value is None else format(value, '.4g')}")
    if outcome.wrote_results:
        click.echo(f"results: {outcome.run_dir.results_path}")
    if outcome.wrote_report:
        click.echo(f"report:  {outcome.run_dir.report_path}")
    if outcome.failures:
        done = "results for the rest" if outcome.wrote_results else "no results"
        echo_error(f"{len(outcome.failures)} unit(s)/plugin(s) failed (listed above); {done}")
        sys.exit(EXIT_BAD_INPUT)


@click.command("tasks-path")
def tasks_path() -> None:
    """Print the installed lm-eval task folder (gsm8k_crma) for `lm_eval --include_path`."""
    from crma_eval.resources import tasks_dir

    click.echo(str(tasks_dir()))


@click.command()
@click.option(
    "--checkpoints",
    "patterns",
    multiple=True,
    help="Checkpoint folder or glob (repeatable); domains are read from their manifests.",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--name", default=None, help="Run name (report title) [the --out folder's name].")
def init(patterns: tuple[str, ...], out: Path, name: str | None) -> None:
    """Write a commented run config, a gate spec and data templates for your checkpoints."""
    from crma_eval.init import CONFIG_NAME, init_project

    notes: list[str] = []
    written = init_project(list(patterns), out, name, notes)
    for note in notes:
        click.echo(f"crma-eval: note: {note}", err=True)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: fill the data templates, then  crma-eval run {out / CONFIG_NAME} --limit 5")


@click.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports/analysis"),
    show_default=True,
    help="Run directory.",
)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option(
    "--ci-method",
    type=click.Choice(["wilson", "clopper_pearson", "jeffreys", "agresti_coull"]),
    default="wilson",
    show_default=True,
)
@click.option(
    "--mcnemar-method",
    type=click.Choice(["exact", "midp", "chi2"]),
    default="exact",
    show_default=True,
)
@click.option(
    "--kind",
    default=None,
    help="Record kind of files without a `kind` column (qa, loss, route, spectral, bench).",
)
@click.option("--report/--no-report", default=True, show_default=True, help="Render report.html.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def analyze(
    records: tuple[Path, ...],
    out: Path,
    confidence: float,
    ci_method: str,
    mcnemar_method: str,
    kind: str | None,
    report: bool,
    as_json: bool,
) -> None:
    """Analyze record files (JSON Lines, JSON arrays, CSV/TSV, Parquet; `.gz` too) into OUT."""
    from crma_eval.analyze import analyze_paths
    from crma_eval.api.plugin import AnalyzeOptions

    if not 0 < confidence < 1:
        raise click.BadParameter("must be between 0 and 1", param_hint="--confidence")
    from crma_eval.store import RunDir

    options = AnalyzeOptions(confidence, ci_method, mcnemar_method)
    with RunDir(out).locked():
        path = analyze_paths(list(records), out, options, kind=kind)
    rendered = None
    if report:
        from crma_eval.report.render import render_report

        rendered = render_report(out)
    if as_json:
        echo_json(json.loads(path.read_text(encoding="utf-8"))["metrics"])
        return
    click.echo(f"results: {path}")
    if rendered is not None:
        click.echo(f"report:  {rendered}")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """(Re)render RUN_DIR/report.html from RUN_DIR/results.json."""
    from crma_eval.report.render import render_report
    from crma_eval.store import writing_into

    with writing_into(run_dir):
        click.echo(f"report: {render_report(run_dir)}")
