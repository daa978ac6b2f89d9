"""clustered interval vs statsmodels OLS cluster SE, sign flips vs enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from crma_eval.stats import (
    benjamini_hochberg,
    cluster_se,
    clustered_proportion,
    mcnemar,
    sign_flip_test,
    wilson_interval,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Items (2..12), each answered 1..4 times, with 0/1 outcomes.
repeated = st.lists(
    st.lists(st.booleans(), min_size=1, max_size=4), min_size=2, max_size=12
).map(lambda items: (np.concatenate([np.array(a, float) for a in items]),
                     np.repeat(np.arange(len(items)), [len(a) for a in items])))  # fmt: skip


def _statsmodels_se(y: np.ndarray, groups: np.ndarray) -> float:
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return float(fit.bse[0])


@SETTINGS
@given(repeated)
def test_cluster_se_is_statsmodels_ols_cluster(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, groups = data
    assert cluster_se(y, groups) == pytest.approx(_statsmodels_se(y, groups), rel=1e-9, abs=1e-15)


@SETTINGS
@given(repeated)
def test_clustered_interval_is_wilson_on_effective_n(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, groups = data
    res = clustered_proportion(y, groups)
    p = y.mean()
    assert (res.n_items, res.n_observations, res.estimate) == (groups.max() + 1, y.size, p)
    assert 0.0 <= res.low <= p <= res.high <= 1.0
    if 0 < p < 1:
        se = _statsmodels_se(y, groups)
        design = max(1.0, se**2 * y.size / (p * (1 - p)))
        assert res.design_effect == pytest.approx(design, rel=1e-9)
        # Hull of Wilson on the effective n (statsmodels, fractional count) and CR1 Wald in [0, 1].
        n_eff = y.size / design
        low, high = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
        wald = (max(0.0, p - 1.959963984540054 * se), min(1.0, p + 1.959963984540054 * se))
        low, high = min(low, wald[0]), max(high, wald[1])
        assert (res.low, res.high) == (
            pytest.approx(low, abs=1e-12),
            pytest.approx(high, abs=1e-12),
        )
        # Never narrower than pretending the answers were independent.
        iid = proportion_confint(y.sum(), y.size, alpha=0.05, method="wilson")
        assert res.high - res.low >= iid[1] - iid[0] - 1e-12


def test_issue_example_twenty_items_three_seeds() -> None:
    """20 items x 3 seeds whose correctness depends only on the item (issue 8): n_eff < 20."""
    right = np.array([True] * 14 + [False] * 6)
    y, items = np.tile(right, 3).astype(float), np.tile(np.arange(20), 3)
    res = clustered_proportion(y, items)
    assert res.n_items == 20 and res.n_observations == 60 and res.n_effective <= 20
    pooled = proportion_confint(42, 60, alpha=0.05, method="wilson")
    assert res.high - res.low > pooled[1] - pooled[0]
    # Wider than the CR1 Wald interval's lower side and at least as wide as the item-level Wilson.
    item_level = proportion_confint(14, 20, alpha=0.05, method="wilson")
    assert res.low <= item_level[0] and res.high >= item_level[1] - 1e-12


def test_all_correct_uses_the_conservative_design_effect() -> None:
    res = clustered_proportion(np.ones(9), np.repeat(np.arange(3), 3))
    assert res.high == 1.0 and res.n_effective == 3
    assert res.low == pytest.approx(proportion_confint(3, 3, method="wilson")[0])


def _enumerated(d: np.ndarray) -> tuple[float, float, float]:
    """(two-sided, greater, less) p by listing all 2^n sign vectors (independent computation)."""
    observed = d.sum()
    sums = np.array([np.dot(s, np.abs(d)) for s in itertools.product((-1, 1), repeat=d.size)])
    tol = 1e-9
    greater = np.mean(sums >= observed - tol)
    less = np.mean(sums <= observed + tol)
    return min(1.0, 2 * min(greater, less)), float(greater), float(less)


@SETTINGS
@given(st.lists(st.sampled_from([-1.0, -2 / 3, -0.5, -1 / 3, 0.0, 1 / 3, 0.5, 2 / 3, 1.0]),
                min_size=1, max_size=10))  # fmt: skip
def test_sign_flip_matches_enumeration(values: list[float]) -> None:
    d = np.array(values)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        assert sign_flip_test(d).pvalue == 1.0
        return
    two, greater, less = _enumerated(nonzero)
    assert sign_flip_test(d).pvalue == pytest.approx(two, abs=1e-12)
    assert sign_flip_test(d, "greater").pvalue == pytest.approx(greater, abs=1e-12)
    assert sign_flip_test(d, "less").pvalue == pytest.approx(less, abs=1e-12)
    assert sign_flip_test(d).exact


@SETTINGS
@given(st.integers(0, 8), st.integers(0, 8))
def test_sign_flip_on_single_answers_is_mcnemar_exact(b: int, c: int) -> None:
    d = np.array([1.0] * b + [-1.0] * c + [0.0] * 3)
    assert sign_flip_test(d).pvalue == pytest.approx(mcnemar(b, c, "exact").pvalue, abs=1e-12)


def test_sign_flip_zero_variance_and_lattice() -> None:
    assert sign_flip_test(np.full(6, 0.2)).pvalue == pytest.approx(2 / 64)  # issue: 0.03125
    big = sign_flip_test(np.r_[np.full(20, 1.0), np.full(10, -1.0)], seed=3)
    # 30 equal magnitudes: exact on the lattice, McNemar's exact binomial p (was Monte Carlo).
    assert big.exact and big.n_permutations == 2**30
    assert big.pvalue == pytest.approx(mcnemar(20, 10, "exact").pvalue, rel=1e-12)


def test_issue_item_level_example() -> None:
    """Item level of the issue's 20 x 3 example: b = 6, c = 1 items, exact p = 0.125."""
    assert sign_flip_test(np.array([1.0] * 6 + [-1.0] + [0.0] * 13)).pvalue == pytest.approx(0.125)


@SETTINGS
@given(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=12))
def test_benjamini_hochberg_is_statsmodels_fdr_bh(pvalues: list[float]) -> None:
    got = benjamini_hochberg(pvalues)
    defined = [p for p in pvalues if not math.isnan(p)]
    expected = iter(multipletests(defined, method="fdr_bh")[1] if defined else [])
    for p, adjusted in zip(pvalues, got, strict=True):
        assert math.isnan(adjusted) if math.isnan(p) else adjusted == pytest.approx(next(expected))


def test_wilson_interval_on_integer_n_is_statsmodels() -> None:
    assert wilson_interval(0.3, 10, 0.95) == pytest.approx(
        proportion_confint(3, 10, alpha=0.05, method="wilson")
    )
