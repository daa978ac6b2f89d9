"""Group summaries, range disjointness, Welch's t-test and Holm adjustment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from references import statsmodels_holm
from scipy import stats

from crma_eval.stats import group_summary, holm, ranges_disjoint, welch_t

SETTINGS = settings(max_examples=80, deadline=None)
value = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
sample = st.lists(value, min_size=2, max_size=12)


@SETTINGS
@given(st.lists(value, min_size=1, max_size=20))
def test_group_summary_matches_pandas(values: list[float]) -> None:
    series = pd.Series(values)
    summary = group_summary(values)
    assert summary.n == len(values)
    assert summary.mean == pytest.approx(series.mean(), abs=1e-9)
    assert (summary.min, summary.max) == (min(values), max(values))
    if len(values) == 1:
        assert math.isnan(summary.std)
    else:
        assert summary.std == pytest.approx(series.std(), rel=1e-9, abs=1e-9)


def test_group_summary_rejects_empty_and_nan() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        group_summary([])
    with pytest.raises(ValueError, match="NaN"):
        group_summary([1.0, float("nan")])


@SETTINGS
@given(st.lists(value, min_size=1, max_size=6), st.lists(value, min_size=1, max_size=6))
def test_ranges_disjoint_means_strictly_separated(a: list[float], b: list[float]) -> None:
    separated = all(x < y for x in a for y in b) or all(y < x for x in a for y in b)
    assert ranges_disjoint(a, b) is separated
    assert ranges_disjoint(b, a) is separated


def test_ranges_touching_at_an_endpoint_overlap() -> None:
    assert ranges_disjoint([1.0, 2.0], [2.0, 3.0]) is False
    assert ranges_disjoint([1.0, 2.0], [2.5, 3.0]) is True
    assert ranges_disjoint([1.0, 5.0], [2.0, 3.0]) is False  # nested


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy, on the reference
@SETTINGS
@given(sample, sample)
def test_welch_matches_scipy_and_satterthwaite(a: list[float], b: list[float]) -> None:
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    if va + vb < 1e-6:  # near-constant groups: checked separately below
        return
    result = welch_t(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert result.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert result.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert result.df == pytest.approx(df, rel=1e-9)
    assert min(len(a), len(b)) - 1 <= result.df * (1 + 1e-9)
    assert result.df <= (len(a) + len(b) - 2) * (1 + 1e-9)


def test_welch_groups_of_two() -> None:
    result = welch_t([0.0, 2.0], [10.0, 14.0])
    # se² = 2/2 + 8/2 = 5, t = -11/sqrt(5); df = 25 / (1 + 16) by Welch–Satterthwaite
    assert result.statistic == pytest.approx(-11 / math.sqrt(5))
    assert result.df == pytest.approx(25 / 17)


def test_welch_degenerate_cases_are_defined() -> None:
    both_constant = welch_t([1.0, 1.0, 1.0], [2.0, 2.0])
    assert all(math.isnan(v) for v in (both_constant.statistic, both_constant.pvalue))
    assert math.isnan(both_constant.df)
    identical = welch_t([3.0, 3.0], [3.0, 3.0])
    assert math.isnan(identical.pvalue)
    one_constant = welch_t([0.1, 0.1, 0.1], [1.0, 2.0, 3.0])
    assert one_constant.df == pytest.approx(2.0)  # all variance comes from the second group
    assert one_constant.statistic == pytest.approx((0.1 - 2.0) / math.sqrt(1 / 3))
    same = welch_t([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.statistic == 0.0 and same.pvalue == pytest.approx(1.0)


def test_welch_needs_two_per_group() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        welch_t([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        welch_t([1.0, 2.0], [])


pvalue = st.floats(min_value=0.0, max_value=1.0)


def holm_step_down(pvalues: list[float]) -> list[float]:
    """Holm (1979) by its definition: running max of (m - rank) * p over the sorted p-values."""
    m, order = len(pvalues), sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@settings(deadline=None)
@given(st.lists(pvalue, min_size=1, max_size=30))
def test_holm_matches_the_step_down_definition(pvalues: list[float]) -> None:
    adjusted = holm(pvalues)
    assert adjusted == pytest.approx(holm_step_down(pvalues), abs=1e-12)
    assert all(p <= q <= 1.0 for p, q in zip(pvalues, adjusted, strict=True))


def test_holm_matches_statsmodels_with_ties_and_ones() -> None:

    rng = np.random.default_rng(11)
    for m in (5, 40):  # statsmodels' holm runs gc.collect() per call: few calls
        p = np.round(rng.random(m) ** 3, 2)  # rounding makes ties; some (m - i) * p exceed 1
        assert holm(p.tolist()) == pytest.approx(statsmodels_holm(p), abs=1e-12)


def test_holm_by_hand_and_edge_cases() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []
    kept = holm([0.01, float("nan"), 0.04])
    assert math.isnan(kept[1]) and kept[0] == pytest.approx(0.02) and kept[2] == pytest.approx(0.04)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])
