"""The `crma-eval claims` verb: check, print, write claims.json and the Markdown summary."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from crma_eval.atomicio import write_text_atomic
from crma_eval.claims import check_file
from crma_eval.claims.output import markdown, print_table, to_json, write_claims_json
from crma_eval.store import writing_into


def run_claims(
    claims_file: Path, run_dir: Path | None, *, as_json: bool = False, summary: Path | None = None
) -> int:
    """Check CLAIMS.yaml (against RUN_DIR when given) and report; returns the exit code.

    0 when every claim is reproduced, 1 otherwise; a bad claims file raises InputError (exit 2).
    With RUN_DIR, RUN_DIR/claims.json is written and an existing report.html re-rendered so it
    shows the Claims section.
    """
    outcomes = check_file(claims_file, run_dir)
    source = claims_file.name
    if as_json:
        click.echo(json.dumps(to_json(outcomes), indent=2))
    else:
        print_table(outcomes)
    if summary is not None:
        write_text_atomic(summary, markdown(outcomes, source))
    if run_dir is not None:
        write_claims_json(run_dir, outcomes, source)
        if (run_dir / "report.html").is_file():
            from crma_eval.report.render import render_report

            render_report(run_dir)
    return 0 if all(o.verdict == "reproduced" for o in outcomes) else 1


@click.command()
@click.argument("claims_file", metavar="CLAIMS.yaml", type=click.Path(path_type=Path))
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option(
    "--summary", type=click.Path(path_type=Path), default=None, help="Write a Markdown summary."
)
def claims(claims_file: Path, run_dir: Path | None, as_json: bool, summary: Path | None) -> None:
    """Check printed numbers in CLAIMS.yaml (against RUN_DIR); exit 1 unless all reproduced."""
    with writing_into(run_dir) if run_dir is not None else contextlib.nullcontext():
        code = run_claims(claims_file, run_dir, as_json=as_json, summary=summary)
    sys.exit(code)
