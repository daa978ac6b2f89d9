"""The verbs that judge a run: `gate` (and `gate --calibrate`) and `compare`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crma_eval.verbs.common import echo_json
from crma_eval.verbs.plan import ALPHA


@click.command()
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
    from crma_eval.verbs.plan import refuse_unused

    if calibrate:
        from crma_eval.verbs.plan import print_calibration

        unused = "is not used with it"
        refuse_unused(
            {
                "--spec": (spec, f"--calibrate proposes a spec; --spec {unused}"),
                "--baseline": (baseline, f"--calibrate compares the runs; --baseline {unused}"),
            }
        )
        print_calibration(list(run_dirs), patterns, alpha, as_json)
        return
    calibrate_only = "is a --calibrate option; without --calibrate the spec's rules say"
    given_alpha = click.get_current_context().get_parameter_source("alpha")
    refuse_unused(
        {
            "--metric": (patterns or None, f"--metric {calibrate_only} what is gated"),
            "--alpha": (
                alpha if given_alpha == click.core.ParameterSource.COMMANDLINE else None,
                f"--alpha {calibrate_only} each rule's alpha",
            ),
        }
    )
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
        echo_json(outcome.to_dict())
    else:
        click.echo((Path(run_dir) / "summary.md").read_text(encoding="utf-8"))
    sys.exit(outcome.exit_code)


@click.command()
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
