"""`crma-eval rescore`: re-score a run's QA records with other scorers (added to the main CLI).

crma-eval rescore RUN_DIR --scorers judge,token_f1 [--primary judge] [--config judge.yaml]
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--scorers", "names", required=True, help="Comma-separated scorer names.")
@click.option("--primary", default=None, help="Scorer that decides `correct` from now on.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML with a scorers: section (a run config works).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scoring summary as JSON.")
def rescore(
    run_dir: Path, names: str, primary: str | None, config_path: Path | None, as_json: bool
) -> None:
    """Re-score RUN_DIR's QA records without the model; re-run analysis and report."""
    from crma_eval.scorers.rescore import rescore as run_rescore

    chosen = [n.strip() for n in names.split(",") if n.strip()]
    done = run_rescore(run_dir, chosen, primary=primary, config_path=config_path)
    if as_json:
        click.echo(json.dumps(done, indent=2))
        return
    for name in chosen:
        abstained = sum(done["abstained"].get(name, {}).values())
        click.echo(f"{name}: {done['scored'].get(name, 0)} scored, {abstained} abstained")
    if "judge" in chosen:
        click.echo(
            f"judge: {done['judge_requests']} request(s), {done['judge_cache_hits']} from cache"
        )
    for name, count in done.get("flagged", {}).items():
        click.echo(f"{name}: {count} answer(s) flagged: they hold judge-format markers")
    click.echo(f"results: {Path(run_dir) / 'results.json'}")
