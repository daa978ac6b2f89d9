"""`crma-eval plan [PILOT_RUN] --drop D ...`: sample sizes per metric (added to the main CLI)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click


class FiniteRange(click.FloatRange):
    """click.FloatRange that also refuses nan and ±inf (click lets nan through every bound)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


_UNIT = FiniteRange(0, 1, min_open=True, max_open=True)
# A two-sided level: above 0.5 it means nothing (the same range as a gate spec's `alpha`).
ALPHA = FiniteRange(0, 0.5, min_open=True)
_POSITIVE = FiniteRange(0, min_open=True)


def refuse_unused(options: dict[str, tuple[Any, str]]) -> None:
    """InputError (exit 2, one line) for the first option given (value not None) that the
    command would ignore: {option: (value, the sentence saying why)}."""
    from crma_eval.errors import InputError

    for value, why in options.values():
        if value is not None:
            raise InputError(why)


def _fmt(value: Any) -> str:
    if value is None:
        return "none detectable"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _text(plans: list[Any], head: str) -> str:
    lines = [head, ""]
    for p in plans:
        lines.append(f"{p.metric}: {p.design}")
        assumed = ", ".join(f"{k} {_fmt(v)}" for k, v in p.assumptions.items())
        lines.append(f"  assumes: {assumed}")
        if p.now:
            lines.append(f"  now:     {', '.join(f'{k} {_fmt(v)}' for k, v in p.now.items())}")
        lines.append(f"  needed:  {', '.join(f'{k} {_fmt(v)}' for k, v in p.needed.items())}")
        if p.by_repeats:
            shown = ", ".join(f"{r}: {n}" for r, n in p.by_repeats.items())
            lines.append(f"  items by answers per item: {shown}")
        if p.note:
            lines.append(f"  note:    {p.note}")
    return "\n".join(lines)


@click.command()
@click.argument("pilot", required=False, type=click.Path(path_type=Path))
@click.option(
    "--drop",
    type=_UNIT,
    default=0.05,
    show_default=True,
    help="Accuracy drop to detect (fraction).",
)
@click.option(
    "--drift-diff",
    type=_POSITIVE,
    default=1.0,
    show_default=True,
    help="Drift difference to detect (pp).",
)
@click.option("--alpha", type=ALPHA, default=0.05, show_default=True, help="Two-sided level.")
@click.option("--power", type=_UNIT, default=0.8, show_default=True)
@click.option(
    "--metric", "patterns", multiple=True, help="Only metrics matching this glob (repeatable)."
)
@click.option("--accuracy", type=_UNIT, default=None, help="Stated accuracy (no pilot).")
@click.option(
    "--discordance",
    type=_UNIT,
    default=None,
    help="Share of items the two runs answer differently.",
)
@click.option(
    "--icc",
    type=FiniteRange(0, 1),
    default=None,
    help="ICC of answers to one item (stated, or for a pilot answering each item once) "
    "[0, said so].",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Answers per item: seeds x repeats (no pilot).",
)
@click.option(
    "--sd",
    type=_POSITIVE,
    default=None,
    help="Per-seed sd of drift, pp (no pilot).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(
    pilot: Path | None,
    drop: float,
    drift_diff: float,
    alpha: float,
    power: float,
    patterns: tuple[str, ...],
    accuracy: float | None,
    discordance: float | None,
    icc: float | None,
    repeats: int,
    sd: float | None,
    as_json: bool,
) -> None:
    """Items, repeats and seeds needed to detect a drop, per metric (from PILOT or stated rates)."""
    from crma_eval.errors import InputError
    from crma_eval.plan.planner import Targets, plan_from_metrics, plan_stated
    from crma_eval.results import load_results

    targets = Targets(drop, drift_diff, alpha, power)
    stated_only = "is a stated rate (no PILOT); the pilot's own values are used: drop it"
    if pilot is not None:
        refuse_unused(
            {
                "--accuracy": (accuracy, f"--accuracy {stated_only}"),
                "--sd": (sd, f"--sd {stated_only}"),
                "--repeats": (repeats if repeats != 1 else None, f"--repeats {stated_only}"),
            }
        )
    else:
        why = "--metric selects a PILOT run's metrics; give PILOT_RUN, or drop --metric"
        refuse_unused({"--metric": (patterns or None, why)})
    if pilot is not None:
        metrics = load_results(pilot)["metrics"]
        from crma_eval.evidence import RunRecords, record_support

        records = RunRecords(pilot)
        plans = plan_from_metrics(
            metrics,
            targets,
            patterns,
            discordance,
            icc,
            lambda name: record_support(name, records) == "binary",
        )
        source = f"pilot {pilot}"
    else:
        plans = plan_stated(targets, accuracy, discordance, icc, repeats, sd)
        source = "stated rates"
    if not plans:
        what = "no plannable metric (qa accuracy, ablation pairs, bench 0/1 scores, drift pairs)"
        hint = (
            "in the pilot run"
            if pilot is not None
            else "; give --accuracy or --discordance, or --sd"
        )
        raise InputError(f"{what} {hint}", path=pilot)
    head = (
        f"Plan from {source}: detect a drop of {drop:g} (accuracy) / {drift_diff:g} pp (drift) "
        f"with {power:.0%} power at two-sided alpha {alpha:g}"
    )
    if as_json:
        doc = {
            "source": source,
            "drop": drop,
            "drift_diff": drift_diff,
            "alpha": alpha,
            "power": power,
            "plans": [p.to_dict() for p in plans],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(_text(plans, head))


def print_calibration(
    run_dirs: list[Path], patterns: tuple[str, ...], alpha: float, as_json: bool
) -> None:
    """`gate --calibrate RUN...`: the spread per metric and a YAML snippet of rules; a run given
    twice (the same directory after resolving links) is bad input."""
    from crma_eval.errors import InputError
    from crma_eval.plan.calibrate import DEFAULT_PATTERNS, calibrate, yaml_snippet

    seen: dict[Path, Path] = {}
    for d in run_dirs:
        first = seen.setdefault(d.resolve(), d)
        if first is not d:
            raise InputError(
                f"--calibrate: the same run as {first} (given twice); give each repeated run "
                "of the checkpoint once",
                path=d,
            )

    result = calibrate(run_dirs, patterns or DEFAULT_PATTERNS, alpha)
    if as_json:
        doc: dict[str, Any] = {"alpha": alpha, "runs": [str(d) for d in run_dirs]}
        doc["metrics"] = [s.to_dict() for s in result.spreads]
        doc["left_out"] = result.left_out
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(yaml_snippet(result, alpha, len(run_dirs)), nl=False)
