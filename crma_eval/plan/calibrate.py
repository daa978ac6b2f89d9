"""Gate margins from measured run-to-run noise (`crma-eval gate --calibrate RUN...`).

RUN... are repeated runs of one checkpoint (other seeds, batch sizes, hardware). For every metric
matching the patterns and present in all runs: the mean, the sample sd (ddof = 1) and the largest
difference between two runs. Two runs of the same checkpoint differ by more than
z_{1-alpha/2} * sqrt(2) * sd with probability alpha (normal approximation), so a margin below that
fails an unchanged checkpoint; the proposed margin is the larger of that and the largest
observed difference, rounded up to two significant digits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from crma_eval.errors import InputError
from crma_eval.results import load_results

DEFAULT_PATTERNS = ("*.accuracy", "bench.*.score")


@dataclass(frozen=True)
class Spread:
    """One metric's run-to-run spread and the margin proposed from it."""

    metric: str
    values: tuple[float, ...]
    mean: float
    sd: float
    max_difference: float
    margin: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "n_runs": len(self.values),
            "values": list(self.values),
            "mean": self.mean,
            "sd": self.sd,
            "max_difference": self.max_difference,
            "margin": self.margin,
        }


def round_up(value: float, digits: int = 2) -> float:
    """value rounded up to `digits` significant digits (0 stays 0)."""
    if value <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale - 1e-9) / scale


def spread(metric: str, values: list[float], alpha: float) -> Spread:
    """Mean, sd (ddof = 1), largest pairwise difference and the proposed margin."""
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1))
    widest = float(array.max() - array.min())
    noise = float(stats.norm.isf(alpha / 2)) * math.sqrt(2) * sd
    margin = round_up(max(noise, widest))
    return Spread(metric, tuple(values), float(array.mean()), sd, widest, margin)


def calibrate(
    run_dirs: list[Path], patterns: tuple[str, ...] = DEFAULT_PATTERNS, alpha: float = 0.05
) -> list[Spread]:
    """The spread of every matching metric found (numeric) in all runs, sorted by name."""
    if len(run_dirs) < 2:
        raise InputError("--calibrate needs at least 2 runs of the same checkpoint")
    all_metrics = [load_results(d)["metrics"] for d in run_dirs]
    names = sorted(
        name
        for name in all_metrics[0]
        if any(fnmatchcase(name, p) for p in patterns)
        and all(_number(m.get(name)) is not None for m in all_metrics)
    )
    if not names:
        wanted = ", ".join(patterns)
        raise InputError(f"no metric matching {wanted} is a number in every run given")
    return [spread(n, [float(m[n]) for m in all_metrics], alpha) for n in names]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def yaml_snippet(spreads: list[Spread], alpha: float, n_runs: int) -> str:
    """A `gates:` list of non_inferiority rules, one per metric, commented with the spread."""
    lines = [
        f"# margins from the run-to-run spread of {n_runs} runs of one checkpoint",
        f"# margin = max(z_(1-alpha/2) * sqrt(2) * sd, largest difference), alpha = {alpha:g}",
        "gates:",
    ]
    for s in spreads:
        if s.margin <= 0:
            lines.append(f"  # {s.metric}: identical in every run (no spread to calibrate from)")
            continue
        lines += [
            f"  - compare: {json.dumps(s.metric)}  # mean {s.mean:.4g}, sd {s.sd:.3g}, "
            f"largest difference {s.max_difference:.3g}",
            "    mode: non_inferiority",
            f"    margin: {s.margin:g}",
            f"    alpha: {alpha:g}",
        ]
    return "\n".join(lines) + "\n"
