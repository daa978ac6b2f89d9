"""The `crma-eval export` verb."""

from __future__ import annotations

from pathlib import Path

import click

from crma_eval.errors import InputError

TARGETS = ("hf", "mlflow", "wandb", "tensorboard")
# target -> (module it needs, pip extra)
NEEDS = {
    "hf": ("huggingface_hub", "hf"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
    "tensorboard": ("tensorboardX", "tensorboard"),
}


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Choice(TARGETS), required=True, help="Where to.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder to write (mlflow: the file store; without it, MLFLOW_TRACKING_URI).",
)
@click.option(
    "--project", default="crma-eval", show_default=True, help="MLflow experiment / W&B project."
)
def export(run_dir: Path, target: str, out: Path | None, project: str) -> None:
    """Export RUN_DIR's metrics (each with its interval, n and method) for TARGET into OUT."""
    from crma_eval.export.context import require, run_context
    from crma_eval.export.rows import metric_rows
    from crma_eval.results import load_results

    results = load_results(run_dir)
    if out is None and target != "mlflow":
        raise InputError(f"--to {target} needs --out DIR (the folder to write)")
    require(*NEEDS[target])
    ctx = run_context(run_dir, results)
    rows = metric_rows(results)
    if target == "hf":
        from crma_eval.export.hf import export_hf

        for path in export_hf(rows, ctx.name, out or Path()):
            click.echo(f"wrote {path}")
    elif target == "mlflow":
        from crma_eval.export.to_mlflow import export_mlflow

        uri, run_id = export_mlflow(rows, ctx, out, project)
        click.echo(f"wrote MLflow run {run_id} ({len(rows)} metrics) to {uri}")
    elif target == "wandb":
        from crma_eval.export.to_wandb import export_wandb

        folder = export_wandb(rows, ctx, out or Path(), project)
        click.echo(f"wrote offline W&B run {folder} (upload: wandb sync {folder})")
    else:
        from crma_eval.export.to_tensorboard import export_tensorboard

        logdir = export_tensorboard(rows, ctx.name, out or Path(), run_dir)
        click.echo(f"wrote TensorBoard events to {logdir} (view: tensorboard --logdir {out})")
