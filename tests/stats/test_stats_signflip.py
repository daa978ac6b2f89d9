"""Exact sign-flip distributions (lattice convolution) and the repeated-measures difference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from crma_eval.stats import mcnemar, sign_flip_test
from crma_eval.stats.repeated import repeated_difference
from crma_eval.stats.signflip import lattice, lattice_distribution

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _enumerated_two_sided(d: np.ndarray) -> float:
    """Two-sided p by listing all 2^n sign vectors (independent of the code under test)."""
    observed = d.sum()
    sums = np.array([np.dot(s, np.abs(d)) for s in itertools.product((-1, 1), repeat=d.size)])
    greater, less = np.mean(sums >= observed - 1e-9), np.mean(sums <= observed + 1e-9)
    return float(min(1.0, 2 * min(greater, less)))


def test_many_equal_differences_are_exact_not_a_monte_carlo_floor() -> None:
    # Issue 20: 41 items all better under one arm; Monte Carlo floored p at 2e-5.
    res = sign_flip_test(np.ones(41))
    assert res.exact
    assert res.pvalue == pytest.approx(2 / 2**41, rel=1e-12)  # 9.09e-13
    assert sign_flip_test(np.full(41, 2 / 3)).pvalue == pytest.approx(2 / 2**41, rel=1e-12)


@SETTINGS
@given(st.integers(0, 60), st.integers(0, 60))
def test_lattice_on_single_answers_is_mcnemar_exact(b: int, c: int) -> None:
    d = np.array([1.0] * b + [-1.0] * c + [0.0] * 2)
    expected = mcnemar(b, c, "exact").pvalue
    assert sign_flip_test(d).pvalue == pytest.approx(expected, rel=1e-9, abs=1e-300)


@SETTINGS
@given(st.lists(st.sampled_from([-3, -2, -1, 0, 1, 2, 3]), min_size=21, max_size=24))
def test_lattice_matches_enumeration_beyond_the_enumeration_limit(values: list[int]) -> None:
    # Per-item totals over 3 seeds: more than 20 items, so the old code fell back to Monte Carlo.
    d = np.array(values, dtype=float) / 3
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return
    res = sign_flip_test(d)
    assert res.exact
    if nonzero.size <= 16:  # keep the independent enumeration fast
        assert res.pvalue == pytest.approx(_enumerated_two_sided(nonzero), abs=1e-12)


def test_lattice_distribution_is_the_subset_sum_distribution() -> None:
    weights = np.array([1, 1, 2, 3, 3, 3])
    counts: dict[int, int] = {}
    for subset in itertools.product((0, 1), repeat=weights.size):
        w = int(np.dot(subset, weights))
        counts[w] = counts.get(w, 0) + 1
    expected = np.array([counts.get(w, 0) for w in range(weights.sum() + 1)]) / 2**weights.size
    assert lattice_distribution(weights) == pytest.approx(expected, abs=1e-15)
    assert lattice(np.array([0.5, 1.0, 1.5])) is not None
    assert lattice(np.array([1.0, math.pi, math.e])) is None


@SETTINGS
@given(st.lists(st.floats(-5, 5).filter(lambda v: abs(v) > 1e-3), min_size=1, max_size=40),
       st.integers(0, 5))  # fmt: skip
def test_swapping_sides_gives_the_same_two_sided_p(values: list[float], seed: int) -> None:
    d = np.array(values)
    forward = sign_flip_test(d, seed=seed, n_resamples=2000)
    backward = sign_flip_test(-d, seed=seed, n_resamples=2000)
    assert forward.pvalue == pytest.approx(backward.pvalue, rel=1e-12)
    greater = sign_flip_test(d, "greater", seed=seed, n_resamples=2000).pvalue
    less = sign_flip_test(-d, "less", seed=seed, n_resamples=2000).pvalue
    assert greater == pytest.approx(less, rel=1e-12)


def test_monte_carlo_only_for_irregular_values() -> None:
    rng = np.random.default_rng(4)
    d = rng.normal(0.4, 1.0, 40)
    res = sign_flip_test(d, seed=2)
    assert not res.exact and res.n_permutations == 200_000
    # The t-test is a good approximation of the permutation test here (Good 2005, §3.1).
    assert res.pvalue == pytest.approx(stats.ttest_1samp(d, 0).pvalue, abs=0.03)


# Items (2..10) answered 1..4 times by two arms, 0/1 answers.
repeated = st.lists(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=4),
    min_size=2,
    max_size=10,
)


@SETTINGS
@given(repeated)
def test_repeated_difference_interval_is_statsmodels_cluster_t(items: list) -> None:
    x = np.array([a for item in items for a, _ in item], dtype=float)
    y = np.array([b for item in items for _, b in item], dtype=float)
    groups = np.repeat(np.arange(len(items)), [len(i) for i in items])
    d = x - y
    res = repeated_difference(d, groups)
    assert res.estimate == pytest.approx(x.mean() - y.mean())
    if np.ptp(d) > 0:
        fit = sm.OLS(d, np.ones_like(d)).fit(
            cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
        )
        low, high = fit.conf_int(alpha=0.05)[0]
        assert res.low == pytest.approx(max(-1.0, low), abs=1e-12)
        assert res.high == pytest.approx(min(1.0, high), abs=1e-12)
    totals = np.bincount(groups, weights=d)
    assert (res.b, res.c) == (int((totals > 0).sum()), int((totals < 0).sum()))
    if np.count_nonzero(totals) <= 12:
        nonzero = totals[totals != 0]
        expected = _enumerated_two_sided(nonzero) if nonzero.size else 1.0
        assert res.pvalue == pytest.approx(expected, abs=1e-12)


def test_few_items_interval_agrees_with_the_exact_test() -> None:
    """Issue 20: 6 items x 3 seeds; sign-flip p = 0.125 while a z interval excluded 0."""
    totals = [-2, 2, 2, 3, 3, 3]  # per item: a right minus b right over its 3 seeds
    x = np.concatenate([[1.0] * t + [0.0] * (3 - t) if t > 0 else [0.0] * 3 for t in totals])
    y = np.concatenate([[1.0] * -t + [0.0] * (3 + t) if t < 0 else [0.0] * 3 for t in totals])
    groups = np.repeat(np.arange(6), 3)
    res = repeated_difference(x - y, groups)
    # 64 sign vectors; S >= 11 for 4 of them (flip nothing, or only the 2 of one item).
    assert res.pvalue == pytest.approx(2 * 4 / 64)  # 0.125
    z_low = res.estimate - stats.norm.isf(0.025) * res.se
    assert z_low > 0  # the z reference would claim significance ...
    assert res.low < 0 < res.high  # ... t with 5 df does not, like the exact test
    assert res.df == 5


def test_unequal_repeats_test_and_interval_share_the_pooled_estimand() -> None:
    # Item 0 answered 4 times (a better each time), items 1-3 once (b better): pooled mean
    # (4 - 3) / 7 > 0 while the mean of item means (1 - 3) / 4 < 0; the test follows the pooled.
    d = np.array([1.0, 1, 1, 1, -1, -1, -1])
    groups = np.array([0, 0, 0, 0, 1, 2, 3])
    res = repeated_difference(d, groups)
    assert res.estimate == pytest.approx(1 / 7)
    assert sign_flip_test(np.array([4.0, -1, -1, -1]), "greater").pvalue == pytest.approx(
        sign_flip_test(np.bincount(groups, weights=d), "greater").pvalue
    )
    assert (res.b, res.c) == (1, 3)


def test_two_sample_monte_carlo_does_not_depend_on_which_group_comes_first() -> None:
    from crma_eval.stats import permutation_test

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 30), rng.normal(0.4, 1, 25)
    forward, backward = permutation_test(a, b), permutation_test(b, a)
    assert not forward.exact
    assert forward.pvalue == backward.pvalue
    assert permutation_test(a, b, "greater").pvalue == permutation_test(b, a, "less").pvalue
    exact = stats.permutation_test(
        (a, b), lambda x, y: np.mean(x) - np.mean(y), n_resamples=20_000, random_state=1
    )
    assert forward.pvalue == pytest.approx(exact.pvalue, abs=0.02)
