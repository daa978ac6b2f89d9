"""Gate margins from measured run-to-run noise (`crma-eval gate --calibrate RUN...`).

RUN... are repeated runs of one checkpoint (other seeds, batch sizes, hardware). Only estimates
count (role "estimate" in the metric catalogue, crma_eval.api.catalogue): matching bounds,
counts, p-values and metrics that are not a number in every run are left out, and the snippet
says how many and why. `--metric` globs are the gate's (crma_eval.gate.globs: `*` within one
dotted segment, `**` across). For every estimate: the mean, the sample sd (ddof = 1) and the
largest difference between two runs. Values that differ by rounding noise only (essentially
constant: standard error below 10 machine epsilons of |mean|, R's `t.test` rule, as
crma_eval.stats.essentially_constant) are identical: no rule. Two runs of
the same checkpoint differ by more than z_{1-alpha/2} * sqrt(2) * sd with probability alpha (normal
approximation), so a margin below that fails an unchanged checkpoint; the proposed margin is the
larger of that and the largest observed difference, rounded up to two significant digits.

The rule proposed: `non_inferiority` where the metric has per-item 0/1 records (its plugin's
`pairing`, crma_eval.evidence.record_support; without records in the runs, a fraction the plugin
pairs); otherwise (perplexity, loss, drift, graded scores) a `max_drop` threshold in the default
mode, since the margin modes need per-item 0/1 records. A non_inferiority rule tests the upper
end of the (1 - 2 alpha) interval of the worsening (crma_eval.gate.decide), which is wider than
the difference of the point estimates: where the runs carry the records, its margin is also
above the largest such upper bound over every ordered pair (baseline, current) of the runs
(rounded up strictly above it), so the proposed spec passes the gate on every pair of the runs it
was calibrated from. A margin at or above its scale's range (fraction: 1; percent, points: 100)
gates nothing: it is reported as too noisy to gate, not as a rule. The gate orients every rule by
the metric's direction (crma_eval.gate.orient).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from crma_eval.api.catalogue import ROLE_LABELS, MetricInfo, catalogue, direction_words
from crma_eval.errors import InputError
from crma_eval.evidence import RunRecords, paired_evidence, record_support
from crma_eval.gate.decide import worsening_interval
from crma_eval.gate.globs import segment_match
from crma_eval.results import load_results
from crma_eval.stats import essentially_constant

DEFAULT_PATTERNS = ("**.accuracy", "bench.**.score")
# The width of each bounded scale: a margin this large can never fail.
SCALE_RANGE = {"fraction": 1.0, "percent": 100.0, "points": 100.0, "percentage points": 100.0}
# Undescribed (fallback) estimates read as fractions from their name.
FRACTION_STATS = frozenset({"accuracy", "auroc", "aupr", "f1", "macro_f1", "rate"})
NOT_NUMBER = "not a number in every run"


@dataclass(frozen=True)
class Spread:
    """One metric's run-to-run spread, the margin proposed from it and the rule it goes into.

    rule: "non_inferiority", "max_drop" (significant_drop mode, threshold), "too_noisy" (margin
    at or above the scale's range: no rule) or "identical" (no spread); why: the reason."""

    metric: str
    values: tuple[float, ...]
    mean: float
    sd: float
    max_difference: float
    margin: float
    direction: str | None = None
    scale: str | None = None
    rule: str = "non_inferiority"
    why: str = ""
    # non_inferiority: the largest upper bound of the gate's interval of the worsening over every
    # ordered pair of the runs (None: not computed, e.g. no per-item records in the runs)
    pair_bound: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "n_runs": len(self.values),
            "values": list(self.values),
            "mean": self.mean,
            "sd": self.sd,
            "max_difference": self.max_difference,
            "margin": self.margin,
            "direction": self.direction,
            "scale": self.scale,
            "rule": self.rule,
            "why": self.why,
            "largest_pair_upper_bound": self.pair_bound,
        }


@dataclass(frozen=True)
class Calibration:
    """The spreads of the estimates calibrated and the matching metrics left out (reason -> n)."""

    spreads: list[Spread]
    left_out: dict[str, int] = field(default_factory=dict)

    def left_out_text(self) -> str:
        """'left out 6 matching metrics: 4 interval bound, 2 count (not estimates)' or ''."""
        if not self.left_out:
            return ""
        parts = ", ".join(f"{n} {why}" for why, n in self.left_out.items())
        return f"left out {sum(self.left_out.values())} matching metrics: {parts}"


def round_up(value: float, digits: int = 2) -> float:
    """value rounded up to `digits` significant digits (0 stays 0)."""
    if value <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale - 1e-9) / scale


def round_above(value: float, digits: int = 2) -> float:
    """The smallest number of `digits` significant digits strictly above value (value > 0)."""
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return (math.floor(value * scale + 1e-9) + 1) / scale


def spread(metric: str, values: list[float], alpha: float) -> Spread:
    """Mean, sd (ddof = 1), largest pairwise difference and the proposed margin (0 when the
    values are essentially constant: they differ by rounding noise only)."""
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1))
    widest = float(array.max() - array.min())
    noise = float(stats.norm.isf(alpha / 2)) * math.sqrt(2) * sd
    margin = 0.0 if essentially_constant(array) else round_up(max(noise, widest))
    return Spread(metric, tuple(values), float(array.mean()), sd, widest, margin)


def scale_of(metric: str, info: MetricInfo) -> str | None:
    """The catalogue's scale; for an undescribed estimate, "fraction" when its name says so."""
    if info.scale is not None or not info.fallback:
        return info.scale
    return "fraction" if metric.rsplit(".", 1)[-1] in FRACTION_STATS else None


def choose_rule(found: Spread, support: str) -> Spread:
    """The rule for one spread from its margin, scale and per-item record support."""
    if found.margin <= 0:
        return replace(found, rule="identical", why="identical in every run")
    width = SCALE_RANGE.get(found.scale or "")
    if width is not None and found.margin >= width:
        why = f"margin {found.margin:g} ≥ the {found.scale} scale's range {width:g}"
        return replace(found, rule="too_noisy", why=f"{why}: too noisy to gate")
    if support == "partial":
        why = "per-item 0/1 records missing in some runs: a max_drop threshold"
        return replace(found, rule="max_drop", why=why)
    if support == "binary" or (support == "absent" and found.scale == "fraction"):
        seen = "in these runs" if support == "binary" else "expected: its plugin pairs them"
        why = f"per-item 0/1 records ({seen})"
        if found.pair_bound is not None:
            why += f"; margin above the largest pair upper bound {found.pair_bound:.3g}"
        return replace(found, rule="non_inferiority", why=why)
    reason = {
        "unpaired": "its plugin pairs no per-item records for it",
        "absent": f"no per-item records in these runs, scale {found.scale or 'unknown'}",
        "graded": "its per-item values are not 0/1",
    }[support]
    why = f"{reason}: non_inferiority needs per-item 0/1 records, so a max_drop threshold"
    return replace(found, rule="max_drop", why=why)


def cover_pairs(found: Spread, runs: list[RunRecords], alpha: float) -> Spread | None:
    """The spread with a margin strictly above the upper bound of the gate's non_inferiority
    interval (crma_eval.gate.decide.worsening_interval, oriented by the metric's direction) for
    every ordered pair (baseline, current) of the runs; None when a pair has no paired 0/1
    records. Raises InputError when the runs' items do not match."""
    bound = -math.inf
    for base, current in permutations(runs, 2):
        evidence = paired_evidence(found.metric, base, current)
        if evidence.x is None or evidence.y is None:
            return None
        interval = worsening_interval(evidence, alpha, found.direction == "lower")
        bound = max(bound, interval.high)
    margin = found.margin if bound < found.margin else round_above(bound)
    return replace(found, margin=margin, pair_bound=bound)


def _rule_for(found: Spread, runs: list[RunRecords], alpha: float) -> Spread:
    """choose_rule, after covering every pair's interval where the runs have 0/1 records."""
    support = record_support(found.metric, runs[0])
    if support == "binary" and found.margin > 0:
        covered = cover_pairs(found, runs, alpha)
        if covered is None:
            support = "partial"
        else:
            found = covered
    return choose_rule(found, support)


def calibrate(
    run_dirs: list[Path], patterns: tuple[str, ...] = DEFAULT_PATTERNS, alpha: float = 0.05
) -> Calibration:
    """The spread of every matching estimate found (numeric) in all runs, sorted by name."""
    if len(run_dirs) < 2:
        raise InputError("--calibrate needs at least 2 runs of the same checkpoint")
    results = [load_results(d) for d in run_dirs]
    all_metrics = [r["metrics"] for r in results]
    info = catalogue(results[0])
    left_out: dict[str, int] = {}
    names = []
    for name in sorted(all_metrics[0]):
        if not any(segment_match(name, p) for p in patterns):
            continue
        role = info[name].role
        why = None if role == "estimate" else f"{ROLE_LABELS.get(role, role)} (not an estimate)"
        if why is None and any(_number(m.get(name)) is None for m in all_metrics):
            why = NOT_NUMBER
        if why is None:
            names.append(name)
        else:
            left_out[why] = left_out.get(why, 0) + 1
    if not names:
        wanted = ", ".join(patterns)
        told = Calibration([], left_out).left_out_text()
        raise InputError(
            f"no metric matching {wanted} is an estimate that is a number in every run given"
            + (f" ({told})" if told else "")
            + "; pass --metric with an estimate's name or glob"
        )
    runs = [RunRecords(d) for d in run_dirs]
    spreads = []
    for n in names:
        found = spread(n, [float(m[n]) for m in all_metrics], alpha)
        found = replace(found, direction=info[n].known_direction, scale=scale_of(n, info[n]))
        spreads.append(_rule_for(found, runs, alpha))
    return Calibration(spreads, left_out)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _rule_lines(s: Spread, alpha: float) -> list[str]:
    """The YAML lines of one spread: a rule with its comments, or a comment saying why none."""
    if s.rule == "identical":
        return [f"  # {s.metric}: identical in every run (no spread to calibrate from)"]
    if s.rule == "too_noisy":
        return [f"  # {s.metric}: {s.why} (no rule; sd {s.sd:.3g} over {len(s.values)} runs)"]
    better = direction_words(s.direction) if s.direction else "direction unknown, read as higher"
    lines = [
        f"  # {s.metric}: {better}; {s.why}",
        f"  - compare: {json.dumps(s.metric)}  # mean {s.mean:.4g}, sd {s.sd:.3g}, "
        f"largest difference {s.max_difference:.3g}",
    ]
    if s.rule == "non_inferiority":
        lines += ["    mode: non_inferiority", f"    margin: {s.margin:g}"]
    else:
        lines.append(f"    max_drop: {s.margin:g}")
    return [*lines, f"    alpha: {alpha:g}"]


def yaml_snippet(result: Calibration, alpha: float, n_runs: int) -> str:
    """A `gates:` list, one rule per calibrated estimate, commented with the spread and the
    reason for its rule (non_inferiority or max_drop), or why none."""
    lines = [
        f"# margins from the run-to-run spread of {n_runs} runs of one checkpoint",
        f"# margin = max(z_(1-alpha/2) * sqrt(2) * sd, largest difference), alpha = {alpha:g}",
        "# non_inferiority margins are also above the largest upper bound of the gate's "
        "(1 - 2 alpha) interval of the worsening over every ordered pair of these runs",
        "# compare rules read the worsening by each metric's direction (higher or lower is better)",
    ]
    if result.left_out:
        lines.append(f"# {result.left_out_text()}")
    if all(s.rule in ("identical", "too_noisy") for s in result.spreads):
        lines.append("# no rule proposed: every metric is identical in every run or too noisy")
    lines.append("gates:")
    for s in result.spreads:
        lines += _rule_lines(s, alpha)
    return "\n".join(lines) + "\n"
