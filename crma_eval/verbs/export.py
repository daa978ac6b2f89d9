"""The `crma-eval export` verb."""

from __future__ import annotations

from pathlib import Path

import click

TARGETS = ("hf",)


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Choice(TARGETS), required=True, help="Where to.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write.")
def export(run_dir: Path, target: str, out: Path) -> None:
    """Export RUN_DIR's metrics (each with its interval, n and method) for TARGET into OUT."""
    from crma_eval.export.hf import export_hf
    from crma_eval.export.rows import metric_rows
    from crma_eval.results import load_results

    results = load_results(run_dir)
    run = str(results.get("meta", {}).get("name") or run_dir.resolve().name)
    for path in export_hf(metric_rows(results), run, out):
        click.echo(f"wrote {path}")
