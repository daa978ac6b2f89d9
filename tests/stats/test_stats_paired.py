"""McNemar and the paired accuracy-difference CI, checked against statsmodels and by simulation."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep

from crma_eval.stats import (
    MCNEMAR_METHODS,
    mcnemar,
    mcnemar_from_pairs,
    paired_difference_ci,
)

SETTINGS = settings(max_examples=80, deadline=None)
discordant = st.integers(min_value=0, max_value=400)


def table(b: int, c: int) -> list[list[int]]:
    return [[10, b], [c, 10]]


@SETTINGS
@given(discordant, discordant)
def test_exact_and_chi2_match_statsmodels(b: int, c: int) -> None:
    if b + c == 0:
        return
    exact = mcnemar(b, c, "exact")
    ref = sm_mcnemar(table(b, c), exact=True)
    assert exact.statistic == ref.statistic and exact.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    chi2 = mcnemar(b, c, "chi2")
    # R's mcnemar.test applies the continuity correction only when b != c; statsmodels always
    # does (b = c = 5 gives p = 0.752 there), so the reference for b = c is R's (0, 1).
    if b == c:
        assert (chi2.statistic, chi2.pvalue) == (0.0, 1.0)
    else:
        ref = sm_mcnemar(table(b, c), exact=False, correction=True)
        assert chi2.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert chi2.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert (exact.b, exact.c, chi2.method) == (b, c, "chi2")


def test_chi2_with_equal_discordant_counts_is_r_mcnemar_test() -> None:
    # R: mcnemar.test(matrix(c(10, 5, 5, 10), 2)) -> McNemar's chi-squared = 0, p-value = 1
    assert (mcnemar(5, 5, "chi2").statistic, mcnemar(5, 5, "chi2").pvalue) == (0.0, 1.0)
    # R: mcnemar.test(matrix(c(10, 5, 6, 10), 2)) -> chi-squared = 0, p-value = 1 (|6-5|-1 = 0)
    assert mcnemar(6, 5, "chi2").pvalue == pytest.approx(1.0)
    assert mcnemar(8, 2, "chi2").statistic == pytest.approx((6 - 1) ** 2 / 10)


@SETTINGS
@given(discordant, discordant)
def test_midp_is_the_two_sided_mid_p_value(b: int, c: int) -> None:
    # Independent form: P(outcomes farther from n/2 than observed) + P(X = b) (the two
    # equally likely boundary outcomes counted at half weight each).
    n = b + c
    outcomes = np.arange(n + 1)
    pmf = stats.binom.pmf(outcomes, n, 0.5)
    farther = np.abs(outcomes - n / 2) > abs(b - n / 2)
    expected = 1.0 if b == c else pmf[farther].sum() + pmf[b]
    result = mcnemar(b, c, "midp")
    assert result.pvalue == pytest.approx(expected, rel=1e-9, abs=1e-300)
    if b != c:
        assert result.pvalue < mcnemar(b, c, "exact").pvalue


@pytest.mark.parametrize("method", MCNEMAR_METHODS)
def test_no_discordant_pairs_gives_p_one(method: str) -> None:
    result = mcnemar(0, 0, method)
    assert result.pvalue == 1.0 and (result.b, result.c) == (0, 0)


def test_symmetric_in_b_and_c_and_known_small_case() -> None:
    assert mcnemar(1, 9).pvalue == mcnemar(9, 1).pvalue
    assert mcnemar(0, 5).pvalue == pytest.approx(2 / 32)  # 2 * 0.5**5
    assert mcnemar(0, 5, "midp").pvalue == pytest.approx(1 / 32)


@pytest.mark.parametrize(
    ("args", "message"),
    [((-1, 2), "b must be >= 0"), ((1, 2.0), "c must be an integer"), ((1, 2, "z"), "unknown")],
)
def test_mcnemar_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mcnemar(*args)


@SETTINGS
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_from_pairs_counts_discordant_pairs(pairs: list[tuple[bool, bool]]) -> None:
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    result = mcnemar_from_pairs(x, y, "midp")
    assert result.b == sum(1 for xi, yi in pairs if xi and not yi)
    assert result.c == sum(1 for xi, yi in pairs if yi and not xi)
    assert result == mcnemar(result.b, result.c, "midp")


def test_from_pairs_input_checks() -> None:
    assert mcnemar_from_pairs([1, 0, 1], [0, 0, 1]).b == 1
    with pytest.raises(ValueError, match="same length"):
        mcnemar_from_pairs([True, False], [True])
    with pytest.raises(ValueError, match="only booleans"):
        mcnemar_from_pairs([2, 0], [1, 0])
    with pytest.raises(ValueError, match="empty"):
        mcnemar_from_pairs([], [])


def test_million_items_are_fast() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(10**6) < 0.7
    y = rng.random(10**6) < 0.6
    start = time.perf_counter()
    result = mcnemar_from_pairs(x, y)
    diff = paired_difference_ci(x, y)
    assert time.perf_counter() - start < 0.5
    assert result.b == int(np.sum(x & ~y)) and result.c == int(np.sum(~x & y))
    assert diff.estimate == pytest.approx(x.mean() - y.mean(), abs=1e-15)


@st.composite
def paired_arms(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    cells = draw(st.lists(st.integers(min_value=0, max_value=60), min_size=4, max_size=4))
    if sum(cells) == 0:
        cells[0] = 1
    both, x_only, y_only, neither = cells
    x = np.repeat([True, True, False, False], cells)
    y = np.repeat([True, False, True, False], [both, x_only, y_only, neither])
    return x, y


@SETTINGS
@given(paired_arms())
def test_difference_interval_properties(arms: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = arms
    est, low, high = paired_difference_ci(x, y)
    assert est == pytest.approx(x.mean() - y.mean(), abs=1e-12)
    assert -1.0 <= low <= est <= high <= 1.0
    wide = paired_difference_ci(x, y, confidence=0.99)
    assert wide.low <= low and high <= wide.high
    big = paired_difference_ci(np.tile(x, 10), np.tile(y, 10))
    assert big.estimate == pytest.approx(est, abs=1e-12)
    assert big.high - big.low < high - low


@SETTINGS
@given(st.lists(st.booleans(), min_size=1, max_size=200))
def test_identical_arms_give_zero_difference(values: list[bool]) -> None:
    est, low, high = paired_difference_ci(values, values)
    assert est == 0.0 and low <= 0.0 <= high


def assert_reduces_to_independent(x: np.ndarray, y: np.ndarray) -> None:
    """With Newcombe's corrected phi = 0 (0 <= ad - bc <= n/2) method 10 is the square-and-add
    of the two Wilson intervals, i.e. statsmodels' independent-samples "newcomb" interval."""
    n = x.size
    low, high = confint_proportions_2indep(x.sum(), n, y.sum(), n, method="newcomb")
    _, our_low, our_high = paired_difference_ci(x, y)
    assert our_low == pytest.approx(max(low, -1.0), abs=1e-9)
    assert our_high == pytest.approx(min(high, 1.0), abs=1e-9)


@SETTINGS
@given(paired_arms())
def test_weakly_correlated_tables_reduce_to_newcombe_independent(
    arms: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = arms
    a, d = np.sum(x & y), np.sum(~x & ~y)
    b, c = np.sum(x & ~y), np.sum(~x & y)
    if 0 <= a * d - b * c <= x.size / 2:
        assert_reduces_to_independent(x, y)


# Bentur et al. (2009): ad - bc = 5 <= n/2; a table with ad - bc = 0; one just inside n/2.
@pytest.mark.parametrize("cells", [[1, 1, 7, 12], [5, 5, 5, 5], [6, 4, 5, 4]])
def test_phi_zero_band_reduces_to_newcombe_independent(cells: list[int]) -> None:
    x = np.repeat([True, True, False, False], cells)
    y = np.repeat([True, False, True, False], cells)
    assert_reduces_to_independent(x, y)


def test_coverage_and_pairing_by_simulation() -> None:
    # Strongly positively correlated arms: true difference 0.10. The paired interval should
    # cover near the nominal 95% and be narrower than the one ignoring the pairing.
    rng = np.random.default_rng(12345)
    probs = [0.55, 0.15, 0.05, 0.25]  # both right, x only, y only, both wrong
    covered, paired_width, indep_width = 0, 0.0, 0.0
    sims, n = 1000, 60
    for cells in rng.multinomial(n, probs, size=sims):
        x = np.repeat([True, True, False, False], cells)
        y = np.repeat([True, False, True, False], cells)
        _, low, high = paired_difference_ci(x, y)
        covered += low <= 0.10 <= high
        paired_width += high - low
        ilow, ihigh = confint_proportions_2indep(x.sum(), n, y.sum(), n, method="newcomb")
        indep_width += ihigh - ilow
    assert 0.92 <= covered / sims <= 0.985
    assert paired_width < 0.9 * indep_width


def test_published_reference_example() -> None:
    # Cavo et al. (2012) table from Fagerland, Lydersen & Laake, "Statistical Analysis of
    # Contingency Tables" ch. 8, as pinned in the R package contingencytables' tests:
    # Newcombe square-and-add -0.0621 (-0.1186 to -0.0046); McNemar exact conditional
    # P = 0.052479, mid-P 0.034690, asymptotic with CC 0.055009. (Uncorrected phi would give
    # -0.1174 to -0.0059, so this pins Newcombe's n/2 correction.)
    cells = [59, 6, 16, 80]  # both right, x only, y only, both wrong
    x = np.repeat([True, True, False, False], cells)
    y = np.repeat([True, False, True, False], cells)
    est, low, high = paired_difference_ci(x, y)
    assert (round(est, 4), round(low, 4), round(high, 4)) == (-0.0621, -0.1186, -0.0046)
    assert round(mcnemar_from_pairs(x, y).pvalue, 6) == 0.052479
    assert round(mcnemar_from_pairs(x, y, "midp").pvalue, 6) == 0.034690
    assert round(mcnemar_from_pairs(x, y, "chi2").pvalue, 6) == 0.055009
