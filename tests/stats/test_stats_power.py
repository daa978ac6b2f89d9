"""Power, MDE and sample sizes against independent computations.

t designs: power recomputed from scipy's noncentral t (independent of statsmodels, which the
code uses). McNemar design: the exact power of the z-test, summed over the multinomial
distribution of (b, c), and a seeded simulation of McNemar's exact test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower, TTestPower

from crma_eval.stats.equivalence import drop_interval, item_design_effect, paired_mde
from crma_eval.stats.power import (
    clustered_items_n,
    design_effect,
    icc_from_design_effect,
    one_sample_mde,
    one_sample_n,
    paired_binary_mde,
    paired_binary_n,
    paired_binary_power,
    permutation_floor,
    seeds_mde,
    two_sample_mde,
    two_sample_n,
)


def nct_power_one_sample(effect: float, n: int, alpha: float) -> float:
    """Two-sided one-sample t power from the noncentral t (scipy)."""
    df, nc = n - 1, effect * math.sqrt(n)
    crit = stats.t.isf(alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def nct_power_two_sample(effect: float, n_a: int, n_b: int, alpha: float) -> float:
    df, nc = n_a + n_b - 2, effect * math.sqrt(n_a * n_b / (n_a + n_b))
    crit = stats.t.isf(alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def exact_ztest_power(delta: float, n: int, psi: float, alpha: float) -> float:
    """P(reject) of the McNemar z-test (b - c) / sqrt(b + c) > z, summed exactly over (b, c)."""
    p10 = (psi + delta) / 2
    z = stats.norm.isf(alpha / 2)
    total = 0.0
    for m in range(1, n + 1):
        pm = stats.binom.pmf(m, n, psi)
        if pm < 1e-14:
            continue
        b = np.arange(m + 1)
        reject = np.abs(2 * b - m) / math.sqrt(m) > z
        total += pm * float(stats.binom.pmf(b, m, p10 / psi)[reject].sum())
    return total


def simulated_mcnemar_power(delta: float, n: int, psi: float, alpha: float, reps: int) -> float:
    rng = np.random.default_rng(12345)
    p10, p01 = (psi + delta) / 2, (psi - delta) / 2
    counts = rng.multinomial(n, [p10, p01, 1 - psi], size=reps)
    b, c = counts[:, 0], counts[:, 1]
    m = b + c
    low = np.minimum(b, c)
    pvalues = np.minimum(1.0, 2 * stats.binom.cdf(low, m, 0.5))
    return float(np.mean(pvalues < alpha))


@pytest.mark.parametrize(("n", "psi"), [(400, 0.2), (2000, 0.06), (150, 0.3)])
def test_mcnemar_mde_reaches_the_power_exactly_and_in_simulation(n: int, psi: float) -> None:
    mde = paired_binary_mde(n, psi, 0.05, 0.8)
    assert math.isfinite(mde.value) and mde.n == n
    assert exact_ztest_power(mde.value, n, max(psi, mde.value), 0.05) == pytest.approx(
        0.8, abs=0.03
    )
    sim = simulated_mcnemar_power(mde.value, n, max(psi, mde.value), 0.05, 4000)
    assert sim == pytest.approx(0.8, abs=0.05)


def test_mcnemar_n_and_mde_are_inverse_and_power_is_monotone() -> None:
    mde = paired_binary_mde(300, 0.15)
    assert paired_binary_n(mde.value, 0.15) == 300
    n = paired_binary_n(0.04, 0.1)
    assert paired_binary_power(0.04, n, 0.1) >= 0.8 > paired_binary_power(0.04, n - 1, 0.1)
    # Connor 1987 closed form, written out here: n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2
    za, zb = stats.norm.isf(0.025), stats.norm.isf(0.2)
    assert n == math.ceil((za * math.sqrt(0.1) + zb * math.sqrt(0.1 - 0.04**2)) ** 2 / 0.04**2)


def test_few_pairs_detect_nothing_and_more_pairs_detect_less() -> None:
    assert math.isinf(paired_binary_mde(3, 0.5).value)
    assert "none detectable" in paired_binary_mde(3, 0.5).text()
    values = [paired_binary_mde(n, 0.2).value for n in (50, 200, 800, 3200)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(values[-2] / 2, rel=0.1)  # ~1/sqrt(n)


@pytest.mark.parametrize(("n", "sd", "alpha"), [(10, 0.3, 0.05), (60, 1.2, 0.1), (500, 0.05, 0.01)])
def test_one_sample_mde_against_noncentral_t(n: int, sd: float, alpha: float) -> None:
    mde = one_sample_mde(n, sd, alpha, 0.8)
    assert nct_power_one_sample(mde.value / sd, n, alpha) == pytest.approx(0.8, abs=1e-4)
    needed = one_sample_n(mde.value * 1.01, sd, alpha, 0.8)
    assert needed <= n and nct_power_one_sample(mde.value * 1.01 / sd, needed, alpha) >= 0.8


@pytest.mark.parametrize(("n_a", "n_b"), [(3, 3), (5, 8), (20, 20)])
def test_two_sample_mde_against_noncentral_t(n_a: int, n_b: int) -> None:
    mde = two_sample_mde(n_a, n_b, 0.5, 0.05, 0.8)
    assert nct_power_two_sample(mde.value / 0.5, n_a, n_b, 0.05) == pytest.approx(0.8, abs=1e-4)
    n = two_sample_n(0.4, 0.5)
    assert (
        nct_power_two_sample(0.8, n, n, 0.05) >= 0.8 > nct_power_two_sample(0.8, n - 1, n - 1, 0.05)
    )
    assert n == math.ceil(TTestIndPower().solve_power(effect_size=0.8, alpha=0.05, power=0.8))


def test_seeds_mde_uses_the_pooled_sd() -> None:
    a, b = [-0.03, -0.10, -0.36], [1.47, 1.66, 2.71]
    pooled = math.sqrt((np.var(a, ddof=1) * 2 + np.var(b, ddof=1) * 2) / 4)
    effect = TTestIndPower().solve_power(nobs1=3, ratio=1.0, alpha=0.05, power=0.8)
    assert seeds_mde(a, b, 0.05) == pytest.approx(effect * pooled, rel=1e-9)
    assert math.isnan(seeds_mde([1.0], [2.0, 3.0], 0.05))
    assert permutation_floor(3, 3) == pytest.approx(0.1)


def test_design_effect_and_icc_round_trip() -> None:
    assert design_effect(0.25, 5) == pytest.approx(2.0)
    assert icc_from_design_effect(2.0, 5) == pytest.approx(0.25)
    # items needed = pairs * deff / repeats
    pairs = paired_binary_n(0.05, 0.2)
    assert clustered_items_n(0.05, 0.2, 0.25, 5) == math.ceil(pairs * 2.0 / 5)
    assert clustered_items_n(0.05, 0.2, 0.0, 1) == pairs


def test_clustered_mde_and_interval_match_t_on_item_means() -> None:
    rng = np.random.default_rng(3)
    items = np.repeat(np.arange(80), 3)
    skill = rng.uniform(0.2, 0.95, 80)[items]
    x = rng.random(items.size) < skill
    y = rng.random(items.size) < skill - 0.05
    d = (x.astype(float) - y.astype(float)).reshape(80, 3).mean(axis=1)
    mde = paired_mde(x, y, items, 0.05, 0.8)
    effect = TTestPower().solve_power(nobs=80, alpha=0.05, power=0.8)
    assert mde.value == pytest.approx(effect * d.std(ddof=1), rel=1e-9)
    interval = drop_interval(x, y, items, 0.9)
    t_low, t_high = stats.t.interval(0.9, 79, loc=d.mean(), scale=stats.sem(d))
    assert (interval.low, interval.high) == pytest.approx((t_low, t_high), rel=1e-9)
    deff = item_design_effect(x, y, items)
    diffs = x.astype(float) - y.astype(float)
    assert deff == pytest.approx(max(1.0, (d.var(ddof=1) / 80) / (diffs.var(ddof=1) / 240)))


def test_simulated_power_at_the_clustered_mde() -> None:
    """Items with a shared per-item effect (ICC > 0): the t test on item means at the MDE."""
    rng = np.random.default_rng(7)
    n_items, repeats, reps = 60, 4, 1500
    # per-item mean difference ~ N(mu, tau^2) plus answer-level noise averaged over repeats
    tau, sigma = 0.2, 0.5
    sd_item = math.sqrt(tau**2 + sigma**2 / repeats)
    mde = one_sample_mde(n_items, sd_item, 0.05, 0.8).value
    means = mde + tau * rng.standard_normal((reps, n_items))
    means += sigma / math.sqrt(repeats) * rng.standard_normal((reps, n_items))
    pvalues = stats.ttest_1samp(means, 0.0, axis=1).pvalue
    assert float(np.mean(pvalues < 0.05)) == pytest.approx(0.8, abs=0.035)
