"""`crma-eval audit gsm8k` (also `crma-eval review gsm8k`): the blinded-review workflow applied to
the GSM8K scorers (crma_eval.review.audit).

    crma-eval audit gsm8k RUN_DIR --export review.csv [--n-agree 20 --seed 0]
    crma-eval audit gsm8k RUN_DIR --reviews alice.csv [bob.csv ...]

Bad input raises crma_eval.errors.InputError, which the main CLI turns into exit code 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from crma_eval.errors import InputError


@click.group()
def audit() -> None:
    """Blinded manual review of automatic scorers."""


def _pct(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _echo_review(summary: dict[str, Any]) -> None:
    level = f"{100 * summary['confidence']:g}%"
    click.echo(
        f"audit {summary['audit_id']} ({summary['task']}): {summary['items']} items, "
        f"{len(summary['reviewers'])} reviewer(s), {summary['ties']} tie(s) and "
        f"{summary.get('unlabelled', 0)} unlabelled item(s) left out"
    )
    for scorer, parts in summary["scorers"].items():
        a, d = parts["all"], parts["disagree"]
        click.echo(
            f"  {scorer:<18} agrees with humans {a['k']}/{a['n']} = {_pct(a['agreement'])} "
            f"[{_pct(a['ci_low'])}, {_pct(a['ci_high'])}] ({summary['ci_method']} {level} CI); "
            f"on disagreements {d['k']}/{d['n']}"
        )
    kappa = summary["kappa"]
    if kappa:
        pairs = ", ".join(f"{k}: {v:.3f}" for k, v in kappa["cohen"].items())
        click.echo(f"  Cohen's kappa {pairs}; Fleiss' kappa {kappa['fleiss']:.3f}")
    for arm, d in summary["deltas"].get("corrected_minus_strict", {}).items():
        click.echo(
            f"  corrected − strict ({arm}, all {d['n']} documents): {d['delta_pp']:+.2f} pp "
            f"[{d['ci_low_pp']:+.2f}, {d['ci_high_pp']:+.2f}]"
        )
    for arm, per_scorer in summary["deltas"].get("after_minus_base", {}).items():
        shown = ", ".join(f"{s} {d['delta_pp']:+.2f} pp" for s, d in per_scorer.items())
        click.echo(f"  {arm} − {summary['deltas']['base_arm']}: {shown}")


@audit.command("gsm8k")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("review_csvs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--export",
    "export_csv",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the blinded review CSV here.",
)
@click.option("--reviews", is_flag=True, help="Read back the reviewed CSV(s) given after it.")
@click.option("--task", default=None, help="Task to audit (default: the one with several filters).")
@click.option(
    "--n-agree",
    type=int,
    default=20,
    show_default=True,
    help="How many items where all scorers agree to add at random.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling and shuffling seed.")
@click.option("--arm", "arms", multiple=True, help="Only these arms (default: all).")
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable output.")
def gsm8k(
    run_dir: Path,
    review_csvs: tuple[Path, ...],
    export_csv: Path | None,
    reviews: bool,
    task: str | None,
    n_agree: int,
    seed: int,
    arms: tuple[str, ...],
    confidence: float,
    as_json: bool,
) -> None:
    """Export GSM8K scorer disagreements for review, or score reviewed CSVs against the scorers."""
    from crma_eval.review.audit import export_audit, review_audit, review_path

    if not Path(run_dir).is_dir():
        raise InputError("run directory not found", path=run_dir)
    if (export_csv is None) == (not reviews):
        raise InputError("give exactly one of --export CSV or --reviews CSV [CSV...]")
    if export_csv is not None:
        if review_csvs:
            raise InputError(f"unexpected argument(s) {' '.join(map(str, review_csvs))}")
        key = export_audit(run_dir, export_csv, task=task, n_agree=n_agree, seed=seed, arms=arms)
        if as_json:
            click.echo(json.dumps({k: v for k, v in key.items() if k != "items"}, indent=2))
            return
        strata = [v["stratum"] for v in key["items"].values()]
        click.echo(
            f"wrote {export_csv}: {len(strata)} items ({strata.count('disagree')} disagreements, "
            f"{strata.count('agree')} agreements), audit {key['audit_id']}, seed {seed}"
        )
        return
    summary = review_audit(run_dir, list(review_csvs), confidence=confidence)
    if as_json:
        click.echo(review_path(run_dir, summary["audit_id"]).read_text(encoding="utf-8").rstrip())
    else:
        _echo_review(summary)
