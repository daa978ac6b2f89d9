"""The `crma-eval` command line. Exit codes: 0 ok, 1 gate failed, 2 bad input, 3 internal error."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crma_eval.errors import InputError
from crma_eval.export.cli import export

if TYPE_CHECKING:
    from crma_eval.api import Plugin
from crma_eval.plan.cli import ALPHA, plan
from crma_eval.review.cli import review
from crma_eval.scorers.cli import rescore
from crma_eval.versions import __version__

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class _Group(click.Group):
    """A click group that maps our exceptions onto the documented exit codes and adds the verbs
    installed plugins contribute (`Plugin.commands`, loaded when invoked)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in plugin_commands():
            plugin, path = plugin_commands()[cmd_name]
            command: click.Command = plugin.load(path)
            return command
        return found

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            _error(exc.one_line())
            ctx.exit(EXIT_BAD_INPUT)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as exc:
            from crma_eval.oserrors import user_fixable

            fixable = user_fixable(exc)
            if fixable is None:
                _internal()
                ctx.exit(EXIT_INTERNAL)
            _error(fixable.one_line())
            ctx.exit(EXIT_BAD_INPUT)
        except Exception:
            _internal()
            ctx.exit(EXIT_INTERNAL)


def _internal() -> None:
    """The internal-error report (exit 3): the traceback, then one line saying it is a bug."""
    traceback.print_exc()
    click.echo("crma-eval: internal error (a bug): please report it", err=True)


def plugin_commands() -> dict[str, tuple[Plugin, str]]:
    """Verb -> (plugin, dotted path of its click command) for every installed plugin's verbs."""
    from crma_eval.api.registry import plugins

    return {verb: (p, path) for p in plugins().values() for verb, path in p.commands.items()}


MAX_ERROR_CHARS = 1000


def _error(message: str) -> None:
    """One line on stderr, whatever newlines the message holds (greppable CI logs), cut to
    MAX_ERROR_CHARS so a hostile input cannot flood the log."""
    line = " ".join(message.split())
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 1] + "…"
    click.echo("crma-eval: error: " + line, err=True)


def _hush_libraries() -> None:
    """`--quiet`: no progress bars or chatter from transformers, datasets and lm-eval either.

    tqdm reads TQDM_DISABLE when it is first imported, so this runs before any model code loads.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    for name in ("lm_eval", "lm-eval", "transformers", "datasets", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crma-eval")
def cli() -> None:
    """Evaluate continual LoRA fine-tuning with a CRMA backbone: collect, analyze, report, gate."""


@cli.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports/demo"), show_default=True
)
@click.option("--small", is_flag=True, help="A quick demo (fewer seeds and steps), for tests.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def demo(out: Path, small: bool, quiet: bool) -> None:
    """Build the embedded demo (train NAIVE/FROZEN/MODULAR), evaluate it, render the report."""
    if quiet:
        _hush_libraries()
    from crma_eval.demo.run import run_demo

    summary = run_demo(out, small=small, quiet=quiet)
    click.echo(summary)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory [config's out, else reports/NAME].",
)
@click.option("--quiet", is_flag=True, help="No progress output (failures are still listed).")
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
    ray_address: str | None,
    workers: int | None,
    gpus_per_worker: float | None,
) -> None:
    """Collect + analyze + report for the checkpoints and data named in CONFIG.yaml.

    Exit 2 when any unit or plugin failed: results and report are still written for the rest.
    """
    if quiet:
        _hush_libraries()
    from crma_eval.collect.executors import make_executor
    from crma_eval.config import load_config
    from crma_eval.run import headline_metrics, run_config

    cfg = load_config(config)
    out = out or cfg.out or Path("reports") / cfg.name
    chosen = make_executor(executor, ray_address, workers, gpus_per_worker, quiet)
    outcome = run_config(cfg, out, quiet=quiet, limit=limit, executor=chosen)
    for failure in outcome.failures:
        _error(failure.one_line())
    for name, value in headline_metrics(outcome.metrics):
        click.echo(f"{name:<48} {'n/a' if value is None else format(value, '.4g')}")
    if outcome.wrote_results:
        click.echo(f"results: {outcome.run_dir.results_path}")
    if outcome.wrote_report:
        click.echo(f"report:  {outcome.run_dir.report_path}")
    if outcome.failures:
        done = "results for the rest" if outcome.wrote_results else "no results"
        _error(f"{len(outcome.failures)} unit(s)/plugin(s) failed (listed above); {done}")
        sys.exit(EXIT_BAD_INPUT)


@cli.command("tasks-path")
def tasks_path() -> None:
    """Print the installed lm-eval task folder (gsm8k_crma) for `lm_eval --include_path`."""
    from crma_eval.resources import tasks_dir

    click.echo(str(tasks_dir()))


@cli.command()
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


@cli.command()
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
    if report:
        from crma_eval.report.render import render_report

        render_report(out)
    if as_json:
        _echo_json(json.loads(path.read_text(encoding="utf-8"))["metrics"])
    else:
        click.echo(f"results: {path}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """(Re)render RUN_DIR/report.html from RUN_DIR/results.json."""
    from crma_eval.report.render import render_report
    from crma_eval.store import writing_into

    with writing_into(run_dir):
        click.echo(f"report: {render_report(run_dir)}")


@cli.command()
@click.argument("run_dirs", metavar="RUN_DIR", nargs=-1, type=click.Path(path_type=Path))
@click.option("--spec", type=click.Path(path_type=Path), default=None, help="GATES.yaml")
@click.option("--baseline", type=click.Path(path_type=Path), default=None, help="Baseline run dir.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option(
    "--calibrate",
    is_flag=True,
    help="RUN_DIR... are repeated runs of one checkpoint: propose margins from their spread.",
)
@click.option("--metric", "patterns", multiple=True, help="--calibrate: metric globs.")
@click.option("--alpha", type=ALPHA, default=0.05, help="--calibrate: two-sided level, (0, 0.5].")
def gate(
    run_dirs: tuple[Path, ...],
    spec: Path | None,
    baseline: Path | None,
    as_json: bool,
    calibrate: bool,
    patterns: tuple[str, ...],
    alpha: float,
) -> None:
    """Evaluate gates on RUN_DIR; writes junit.xml, summary.md and gate.json (and re-renders an
    existing report.html so it shows the outcome); exit 1 if a gate fails. With --calibrate,
    print gate rules with margins from the spread of repeated runs of one checkpoint."""
    if calibrate:
        from crma_eval.plan.cli import print_calibration

        print_calibration(list(run_dirs), patterns, alpha, as_json)
        return
    if len(run_dirs) != 1 or spec is None:
        raise click.UsageError("gate needs one RUN_DIR and --spec GATES.yaml (or --calibrate)")
    run_dir = run_dirs[0]
    from crma_eval.gate import run_gate
    from crma_eval.store import writing_into

    with writing_into(run_dir):
        outcome = run_gate(run_dir, spec, baseline)
        if (Path(run_dir) / "report.html").exists():
            from crma_eval.report.render import render_report

            render_report(run_dir)
    if as_json:
        _echo_json(outcome.to_dict())
    else:
        click.echo((Path(run_dir) / "summary.md").read_text(encoding="utf-8"))
    sys.exit(outcome.exit_code)


@cli.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Default: RUN_B/compare."
)
def compare(run_a: Path, run_b: Path, out: Path | None) -> None:
    """Compare two runs: compare.html (deltas, paired tests, flipped items) and compare.md."""
    from crma_eval.report.compare import write_comparison

    path = write_comparison(run_a, run_b, out or Path(run_b) / "compare")
    click.echo((path.parent / "compare.md").read_text(encoding="utf-8"))
    click.echo(f"comparison: {path}")


@cli.command()
@click.argument("claims_file", metavar="CLAIMS.yaml", type=click.Path(path_type=Path))
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option(
    "--summary", type=click.Path(path_type=Path), default=None, help="Write a Markdown summary."
)
def claims(claims_file: Path, run_dir: Path | None, as_json: bool, summary: Path | None) -> None:
    """Check printed numbers in CLAIMS.yaml (against RUN_DIR); exit 1 unless all reproduced."""
    from crma_eval.claims.cli import run_claims
    from crma_eval.store import writing_into

    with writing_into(run_dir) if run_dir is not None else contextlib.nullcontext():
        code = run_claims(claims_file, run_dir, as_json=as_json, summary=summary)
    sys.exit(code)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_plugins(as_json: bool) -> None:
    """List installed plugins (entry-point group crma_eval.plugins)."""
    from crma_eval.api.registry import plugins

    rows = [
        {
            "name": name,
            "title": p.title,
            "kinds": list(p.kinds),
            "declares": [k.name for k in p.record_kinds],
            "collects": bool(p.collector),
            "data": dict(p.data),
            "options": p.options_model is not None,
        }
        for name, p in plugins().items()
    ]
    if as_json:
        _echo_json(rows)
        return
    click.echo(f"{'plugin':<10} {'reads':<10} {'declares':<10} {'steps':<16} title")
    for row in rows:
        kinds = ",".join(map(str, row["kinds"]))  # type: ignore[call-overload]
        declares = ",".join(map(str, row["declares"])) or "-"  # type: ignore[call-overload]
        steps = "collect+analyze" if row["collects"] else "analyze"
        click.echo(f"{row['name']:<10} {kinds:<10} {declares:<10} {steps:<16} {row['title']}")


cli.add_command(export)
cli.add_command(plan)
cli.add_command(rescore)
cli.add_command(review)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Usage errors are one line naming the option and `--help`
    (exit 2), like every other bad input."""
    try:
        code = cli.main(args=argv, prog_name="crma-eval", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "crma-eval"
        _error(f"{exc.format_message()} (see `{where} --help`)")
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _error("aborted")
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
