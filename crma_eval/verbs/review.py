"""`crma-eval review`: blinded multi-rater review of any QA run (added to the main CLI).

crma-eval review export RUN_DIR --out review.csv [--n 100] [--seed 0] [--stratify domain,arm]
crma-eval review import RUN_DIR alice.csv bob.csv ... [--json]
crma-eval review gsm8k RUN_DIR --export CSV | --reviews CSV...   (the same as `audit gsm8k`)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from crma_eval.store import writing_into
from crma_eval.verbs.audit import gsm8k


@click.group()
def review() -> None:
    """Blinded human review of QA answers, inter-rater agreement and corrected accuracy."""


@review.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Sheet to write.")
@click.option("--n", type=int, default=100, show_default=True, help="Answers to sample.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--stratify", default="domain", show_default=True, help="Any of domain,arm,disagreement."
)
def export_cmd(run_dir: Path, out: Path, n: int, seed: int, stratify: str) -> None:
    """Write a blinded, shuffled, spreadsheet-safe sheet; the key stays in RUN_DIR/review/."""
    from crma_eval.review.sheet import export_review

    keys = [s.strip() for s in stratify.split(",") if s.strip()]
    with writing_into(run_dir):
        key = export_review(run_dir, out, n=n, seed=seed, stratify=keys)
    click.echo(f"wrote {out}: {len(key['items'])} answers, review {key['review_id']}, seed {seed}")


def _fmt(value: Any) -> str:
    return (
        "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
    )


def _echo(s: dict[str, Any]) -> None:
    a = s["agreement"]["krippendorff_alpha"]
    click.echo(f"review {s['review_id']}: {s['n_items']} items, {s['n_raters']} rater(s)")
    click.echo(f"  Krippendorff's alpha {_fmt(a['estimate'])} [{_fmt(a['ci_low'])}, "
               f"{_fmt(a['ci_high'])}] ({a['method']})")  # fmt: skip
    if "fleiss" in s["agreement"]:
        f = s["agreement"]["fleiss"]
        click.echo(
            f"  Fleiss' kappa {_fmt(f['estimate'])} [{_fmt(f['ci_low'])}, {_fmt(f['ci_high'])}] "
            f"on {f['n_items']} items with 2+ labels ({f['n_complete']} labelled by every rater)"
        )
    boots = [a, *s["agreement"].get("cohen", {}).values(), s["agreement"].get("fleiss", {})]
    total = sum(b.get("undefined", 0) for b in boots)
    if total:  # the resamples' warnings are held back (review.agreement); counted here once
        n = sum(b.get("resamples", 0) for b in boots)
        click.echo(f"  bootstrap: {total} of {n} resamples undefined (dropped from the intervals)")
    for name, r in s["scorers_vs_humans"].items():
        click.echo(f"  {name:<10} agrees with the human majority {r['k']}/{r['n']} "
                   f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] ({s['ci_method']})")  # fmt: skip
    for row in s["accuracy"]:
        c, rv = row["corrected"], row["reviewed"]
        est = (
            "not computed: " + c["why"]
            if c["estimate"] is None
            else (f"{_fmt(c['estimate'])} [{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]")
        )
        click.echo(f"  {row['arm']}/{row['domain']}: reviewed {rv['k']}/{rv['n']}, "
                   f"auto {_fmt(row['auto_accuracy'])}, corrected {est}")  # fmt: skip


@review.command("import")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("csvs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
)
@click.option(
    "--bootstrap", type=click.IntRange(100), default=1000, show_default=True, help="Resamples."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_cmd(
    run_dir: Path, csvs: tuple[Path, ...], confidence: float, bootstrap: int, as_json: bool
) -> None:
    """Read reviewers' sheets: alpha, kappas, scorers vs humans, corrected accuracy."""
    from crma_eval.review.summary import review_summary, summary_json

    with writing_into(run_dir):
        summary = review_summary(run_dir, list(csvs), confidence=confidence, resamples=bootstrap)
    if as_json:
        click.echo(summary_json(summary))
    else:
        _echo(summary)


review.add_command(gsm8k)
