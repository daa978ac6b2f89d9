"""Proportion intervals: agreement with statsmodels, exact edge limits, validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from crma_eval.stats import PROPORTION_METHODS, method_label, proportion_ci

SETTINGS = settings(max_examples=80, deadline=None)
SM_NAME = {
    "wilson": "wilson",
    "clopper_pearson": "beta",
    "jeffreys": "jeffreys",
    "agresti_coull": "agresti_coull",
}


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=2000))
    return draw(st.integers(min_value=0, max_value=n)), n


@SETTINGS
@given(counts(), st.sampled_from(PROPORTION_METHODS), st.floats(min_value=0.5, max_value=0.999))
def test_matches_statsmodels_inside_the_unit_interval(
    kn: tuple[int, int], method: str, confidence: float
) -> None:
    k, n = kn
    low, high = proportion_ci(k, n, confidence, method)
    ref_low, ref_high = proportion_confint(k, n, alpha=1 - confidence, method=SM_NAME[method])
    assert 0.0 <= low <= high <= 1.0
    if k > 0:
        assert low == pytest.approx(max(ref_low, 0.0), abs=1e-12)
    if k < n:
        assert high == pytest.approx(min(ref_high, 1.0), abs=1e-12)


@SETTINGS
@given(counts(), st.sampled_from(("wilson", "clopper_pearson")))
def test_interval_contains_the_observed_proportion(kn: tuple[int, int], method: str) -> None:
    k, n = kn
    low, high = proportion_ci(k, n, method=method)
    assert low <= k / n <= high


@SETTINGS
@given(counts(), st.sampled_from(PROPORTION_METHODS))
def test_higher_confidence_gives_a_nested_wider_interval(kn: tuple[int, int], method: str) -> None:
    k, n = kn
    low90, high90 = proportion_ci(k, n, 0.90, method)
    low99, high99 = proportion_ci(k, n, 0.99, method)
    assert low99 <= low90 and high90 <= high99
    assert high99 - low99 > high90 - low90


@pytest.mark.parametrize("method", PROPORTION_METHODS)
@pytest.mark.parametrize("n", [1, 2, 7, 100, 10**6])
def test_edge_counts_give_exact_limits(method: str, n: int) -> None:
    low0, high0 = proportion_ci(0, n, method=method)
    lown, highn = proportion_ci(n, n, method=method)
    assert low0 == 0.0 and 0.0 < high0 < 1.0
    assert highn == 1.0 and 0.0 < lown < 1.0
    # the two edges mirror each other: 1 - upper(0/n) == lower(n/n) for these symmetric methods
    assert lown == pytest.approx(1.0 - high0, abs=1e-12)


def test_n_equal_one() -> None:
    low, high = proportion_ci(1, 1)
    assert high == 1.0 and low == pytest.approx(1 / (1 + 1.959963984540054**2), abs=1e-9)


def test_wilson_matches_its_closed_form() -> None:
    # Wilson (1927): (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z for 95%.
    k, n, z = 7, 23, 1.959963984540054
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = proportion_ci(k, n)
    assert low == pytest.approx((centre - half) / (1 + z * z / n), abs=1e-12)
    assert high == pytest.approx((centre + half) / (1 + z * z / n), abs=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 4), "k must be <= n"),
        ((-1, 4), "k must be >= 0"),
        ((0, 0), "n must be >= 1"),
        ((1.5, 4), "k must be an integer"),
        ((True, 4), "k must be an integer"),
        ((1, 4, 0.0), "confidence"),
        ((1, 4, 1.0), "confidence"),
        ((1, 4, float("nan")), "confidence"),
        ((1, 4, 0.95, "normal"), "unknown proportion CI method 'normal'"),
    ],
)
def test_bad_input_raises_a_clear_value_error(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        proportion_ci(*args)


def test_method_labels() -> None:
    labels = [method_label(m) for m in PROPORTION_METHODS]
    assert labels[0] == "Wilson score"
    assert method_label("clopper_pearson") == "Clopper–Pearson exact"
    assert len(set(labels)) == len(labels)
    with pytest.raises(ValueError, match="unknown"):
        method_label("beta")
