"""Power, minimum detectable effect (MDE) and sample size for the designs crma_eval compares.

Three designs, each the test the harness actually runs:

* paired binary (one answer per item, McNemar): normal approximation of the paired proportion
  test (Connor 1987, Biometrics 43:207; as in PASS and G*Power's McNemar approximation). A true
  drop delta = p10 - p01 with discordance psi = p10 + p01 is detected with power
  Phi((delta * sqrt(n) - z_{1-alpha/2} * sqrt(psi)) / sqrt(psi - delta^2)). A drop of delta
  needs at least delta discordance, so psi = max(observed discordance, delta).
* clustered items (repeated answers per item, sign-flip / paired t on per-item mean
  differences): one-sample t test on the G item means, statsmodels TTestPower, with the sd of
  the per-item differences (the measured design effect is the ratio of that variance of the
  mean to the one of independent answers).
* seeds (Welch / permutation across seeds): two-sample t test, statsmodels TTestIndPower, with
  the pooled sd of the per-seed values. An exact permutation test whose floor (smallest
  attainable p) is not below alpha detects nothing, whatever the effect: `permutation_floor`.

All tests are two-sided at level alpha; MDE is the smallest true difference (in the metric's
unit) detected with probability `power`; math.inf when no difference is (too few units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.power import TTestIndPower, TTestPower

DEFAULT_POWER = 0.8
PAIRED_BINARY = "paired-binary (McNemar, normal approximation, Connor 1987)"
CLUSTERED_ITEMS = "clustered items (paired t on per-item mean differences, statsmodels TTestPower)"
SEEDS = "seeds (two-sample t on per-seed values, pooled sd, statsmodels TTestIndPower)"
_EPS = 1e-9


@dataclass(frozen=True)
class Mde:
    """The smallest true difference a design detects: `value` (metric unit; inf: none).

    n: the units of the design (pairs, items or seeds per arm); design: one of PAIRED_BINARY,
    CLUSTERED_ITEMS, SEEDS; note: the rates it rests on (discordance, sd, design effect).
    """

    value: float
    n: int
    design: str
    alpha: float
    power: float
    note: str = ""

    def text(self, scale: float = 1.0, unit: str = "") -> str:
        """e.g. `MDE 0.083 (80% power, alpha 0.05; paired-binary ..., n = 200, ...)`."""
        shown = "none detectable" if math.isinf(self.value) else f"{self.value * scale:.3g}{unit}"
        extra = f", {self.note}" if self.note else ""
        return (
            f"MDE {shown} ({self.power:.0%} power, alpha {self.alpha:g}; "
            f"{self.design}, n = {self.n}{extra})"
        )


def _check(alpha: float, power: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, got {power}")


def paired_binary_power(delta: float, n: int, discordance: float, alpha: float = 0.05) -> float:
    """Power of the two-sided McNemar test for a true difference delta (0 < delta < 1) on n pairs.

    Connor's normal approximation with psi = max(discordance, delta) (the far tail is ignored).
    """
    _check(alpha, 0.5)
    delta = abs(delta)
    psi = min(1.0, max(discordance, delta))
    if delta == 0 or n <= 0:
        return alpha / 2 if delta == 0 else 0.0
    z = float(stats.norm.isf(alpha / 2))
    spread = psi - delta * delta
    numerator = delta * math.sqrt(n) - z * math.sqrt(psi)
    if spread <= 0:
        return 1.0 if numerator > 0 else 0.0
    return float(stats.norm.cdf(numerator / math.sqrt(spread)))


def paired_binary_mde(
    n: int, discordance: float, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> Mde:
    """MDE of the McNemar design on n pairs with the observed discordance rate (b + c) / n."""
    _check(alpha, power)
    note = f"discordance {discordance:.3g}"
    top = 1.0 - _EPS
    if n <= 0 or paired_binary_power(top, n, discordance, alpha) < power:
        return Mde(math.inf, max(n, 0), PAIRED_BINARY, alpha, power, note)
    value = optimize.brentq(
        lambda d: paired_binary_power(d, n, discordance, alpha) - power, _EPS, top, xtol=1e-10
    )
    return Mde(float(value), n, PAIRED_BINARY, alpha, power, note)


def paired_binary_n(
    delta: float, discordance: float, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> int:
    """Pairs needed to detect delta (Connor 1987 closed form), psi = max(discordance, delta)."""
    _check(alpha, power)
    if not 0.0 < abs(delta) < 1.0:
        raise ValueError(f"the difference must be strictly between 0 and 1, got {delta}")
    delta = abs(delta)
    psi = min(1.0, max(discordance, delta))
    z_a, z_b = float(stats.norm.isf(alpha / 2)), float(stats.norm.isf(1 - power))
    root = z_a * math.sqrt(psi) + z_b * math.sqrt(max(psi - delta * delta, 0.0))
    return math.ceil(root * root / (delta * delta) - 1e-6)  # 300.0000001 is 300


def one_sample_mde(
    n: int, sd: float, alpha: float = 0.05, power: float = DEFAULT_POWER, note: str = ""
) -> Mde:
    """MDE of a two-sided one-sample (paired) t test on n units with standard deviation sd."""
    _check(alpha, power)
    if n < 2:
        return Mde(math.inf, n, CLUSTERED_ITEMS, alpha, power, note)
    effect = TTestPower().solve_power(nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return Mde(float(effect) * sd, n, CLUSTERED_ITEMS, alpha, power, note)


def one_sample_n(delta: float, sd: float, alpha: float = 0.05, power: float = DEFAULT_POWER) -> int:
    """Units needed by a two-sided one-sample t test to detect delta with this sd (>= 2)."""
    _check(alpha, power)
    if delta == 0 or sd <= 0:
        raise ValueError("the difference and the sd must be > 0")
    effect = abs(delta) / sd
    if TTestPower().power(effect, 2, alpha, alternative="two-sided") >= power:
        return 2  # (the solver does not search below its smallest n)
    n = TTestPower().solve_power(
        effect_size=effect, alpha=alpha, power=power, alternative="two-sided"
    )
    return max(2, math.ceil(float(n) - 1e-9))


def two_sample_mde(
    n_a: int, n_b: int, sd: float, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> Mde:
    """MDE of a two-sided two-sample t test (n_a and n_b seeds, pooled sd)."""
    _check(alpha, power)
    note = f"pooled sd {sd:.3g}, {n_a} vs {n_b} seeds"
    if min(n_a, n_b) < 2:
        return Mde(math.inf, min(n_a, n_b), SEEDS, alpha, power, note)
    effect = TTestIndPower().solve_power(
        nobs1=n_a, ratio=n_b / n_a, alpha=alpha, power=power, alternative="two-sided"
    )
    return Mde(float(effect) * sd, min(n_a, n_b), SEEDS, alpha, power, note)


def two_sample_n(delta: float, sd: float, alpha: float = 0.05, power: float = DEFAULT_POWER) -> int:
    """Seeds per arm (equal arms) for a two-sided two-sample t test to detect delta (>= 2)."""
    _check(alpha, power)
    if delta == 0 or sd <= 0:
        raise ValueError("the difference and the sd must be > 0")
    effect = abs(delta) / sd
    if TTestIndPower().power(effect, 2, alpha, ratio=1.0, alternative="two-sided") >= power:
        return 2  # (the solver does not search below its smallest n)
    n = TTestIndPower().solve_power(
        effect_size=effect, ratio=1.0, alpha=alpha, power=power, alternative="two-sided"
    )
    return max(2, math.ceil(float(n) - 1e-9))


def permutation_floor(n_a: int, n_b: int) -> float:
    """Smallest two-sided p of an exact two-group permutation test: 2 / C(n_a + n_b, n_a)."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def design_effect(icc: float, repeats: float) -> float:
    """Kish's design effect 1 + (m - 1) * icc of m answers per item (cluster size m)."""
    if not 0.0 <= icc <= 1.0:
        raise ValueError(f"the ICC must be within [0, 1], got {icc}")
    return 1.0 + (repeats - 1.0) * icc


def icc_from_design_effect(deff: float, repeats: float) -> float:
    """The ICC implied by a measured design effect with m answers per item (clipped to [0, 1])."""
    if repeats <= 1:
        return 0.0
    return min(1.0, max(0.0, (deff - 1.0) / (repeats - 1.0)))


def clustered_items_n(
    delta: float,
    discordance: float,
    icc: float,
    repeats: int,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
) -> int:
    """Items needed when each item is answered `repeats` times (seeds x repeats) per arm.

    The paired-binary sample size in answers, inflated by the design effect 1 + (m - 1) * icc
    and divided by m answers per item: n_items = n_pairs * deff / m (at least 2).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    pairs = paired_binary_n(delta, discordance, alpha, power)
    return max(2, math.ceil(pairs * design_effect(icc, repeats) / repeats - 1e-9))


def pooled_sd(a: list[float], b: list[float]) -> float:
    """Pooled sample sd of two groups (ddof = 1 each); NaN below 2 values a side."""
    n_a, n_b = len(a), len(b)
    if min(n_a, n_b) < 2:
        return math.nan
    var_a, var_b = (float(np.var(v, ddof=1)) for v in (a, b))
    return math.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))


def seeds_mde(a: list[float], b: list[float], alpha: float) -> float:
    """MDE (value unit) of comparing two conditions across seeds at 80% power; NaN if none.

    The two-sample t design with the pooled sd (two_sample_mde); NaN below 2 seeds a side or
    when the values do not vary.
    """
    sd = pooled_sd(a, b)
    if not sd > 0:
        return math.nan
    value = two_sample_mde(len(a), len(b), sd, alpha, DEFAULT_POWER).value
    return value if math.isfinite(value) else math.nan
