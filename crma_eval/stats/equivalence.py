"""The drop between two paired arms: its interval and MDE for the design the data have.

Used by the gate's decision modes (non-inferiority and equivalence test the interval of the
drop against a margin; TOST = the (1 - 2 alpha) interval inside ±margin, Schuirmann 1987) and
by every paired comparison's MDE. x is the baseline (or first arm), y the current run (or second
arm), 0/1 per answer (shape [N]); `items` labels each answer's item when items repeat.

* one answer per item: Newcombe's paired interval (crma_eval.stats.paired) and the McNemar MDE;
* repeated items: t interval and one-sample t MDE on the per-item mean differences (the item is
  the unit; as statsmodels ttost_paired / TTestPower on the item means).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from crma_eval.stats.paired import paired_difference_ci
from crma_eval.stats.power import (
    DEFAULT_POWER,
    Mde,
    one_sample_mde,
    paired_binary_mde,
)

NEWCOMBE = "Newcombe paired (method 10)"
ITEM_T = "t on per-item mean differences"


@dataclass(frozen=True)
class DropInterval:
    """The drop mean(x) - mean(y) with a two-sided interval at `confidence` (method named)."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int


def per_item_differences(x: ArrayLike, y: ArrayLike, items: ArrayLike) -> np.ndarray:
    """Mean of x - y over each item's answers (shape [items], first-appearance order)."""
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    return pd.Series(d).groupby(np.asarray(items), sort=False).mean().to_numpy()


def drop_interval(
    x: ArrayLike, y: ArrayLike, items: ArrayLike | None, confidence: float
) -> DropInterval:
    """Interval of mean(x) - mean(y): Newcombe (one answer per item) or item-level t."""
    if items is None:
        res = paired_difference_ci(x, y, confidence)
        n = int(np.asarray(x).size)
        return DropInterval(res.estimate, res.low, res.high, confidence, NEWCOMBE, n)
    d = per_item_differences(x, y, items)
    mean = float(d.mean())
    if d.size < 2:
        return DropInterval(mean, -1.0, 1.0, confidence, ITEM_T, int(d.size))
    half = float(stats.t.isf((1 - confidence) / 2, d.size - 1)) * float(d.std(ddof=1))
    half /= math.sqrt(d.size)
    low, high = max(-1.0, mean - half), min(1.0, mean + half)
    return DropInterval(mean, low, high, confidence, ITEM_T, int(d.size))


def item_design_effect(x: ArrayLike, y: ArrayLike, items: ArrayLike) -> float:
    """Variance of the mean difference from item means over that of independent answers.

    (var(d_items) / G) / (var(d_answers) / N), at least 1; 1 when the answers do not vary.
    """
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    per_item = per_item_differences(x, y, items)
    answers = float(d.var(ddof=1)) if d.size > 1 else 0.0
    if answers == 0 or per_item.size < 2:
        return 1.0
    ratio = (float(per_item.var(ddof=1)) / per_item.size) / (answers / d.size)
    return max(1.0, ratio)


def paired_mde(
    x: ArrayLike,
    y: ArrayLike,
    items: ArrayLike | None,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
) -> Mde:
    """MDE of the paired test the harness runs on these data (see the module docstring)."""
    xa, ya = np.asarray(x, dtype=bool), np.asarray(y, dtype=bool)
    if items is None:
        discordance = float(np.count_nonzero(xa != ya)) / max(xa.size, 1)
        return paired_binary_mde(int(xa.size), discordance, alpha, power)
    d = per_item_differences(xa, ya, items)
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    if sd == 0:  # no spread observed: the binary design on items, the optimistic bound
        mde = paired_binary_mde(int(d.size), float(np.mean(d != 0)), alpha, power)
        return Mde(mde.value, mde.n, mde.design, alpha, power, mde.note + " (items, no spread)")
    deff = item_design_effect(xa, ya, items)
    note = f"sd of item differences {sd:.3g}, design effect {deff:.3g}, {xa.size} answers"
    return one_sample_mde(int(d.size), sd, alpha, power, note)


MDE_METHOD = (
    "minimum detectable difference at alpha = 1 - confidence (two-sided) and 80% power: "
    "McNemar normal approximation (Connor 1987) from the observed discordance (one answer per "
    "item); paired t on per-item mean differences with the measured design effect (repeated items)"
)


def comparison_mde(
    x: ArrayLike, y: ArrayLike, items: ArrayLike | None, alpha: float
) -> dict[str, float]:
    """`mde` (NaN: none detectable) and, for repeated items, `design_effect` of one comparison."""
    mde = paired_mde(x, y, items, alpha, DEFAULT_POWER)
    found = {"mde": mde.value if math.isfinite(mde.value) else math.nan}
    if items is not None:
        found["design_effect"] = item_design_effect(x, y, items)
    return found
