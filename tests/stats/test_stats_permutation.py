"""Permutation test: exact enumeration against scipy, combinatorial floors, Monte Carlo fallback."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from crma_eval.stats import ALTERNATIVES, permutation_test

SETTINGS = settings(max_examples=60, deadline=None)
# Quarter-integers are exact in binary, so tied relabellings tie exactly for scipy too.
dyadic = st.integers(min_value=-12, max_value=12).map(lambda v: v / 4)
small_group = st.lists(dyadic, min_size=2, max_size=5)  # scipy needs two per group
# Six decimals: distinct relabellings differ far more than the 1e-11 (relative) tie tolerance.
decimal = st.integers(min_value=-(10**8), max_value=10**8).map(lambda v: v / 10**6)


def scipy_exact(a: list[float], b: list[float], alternative: str) -> float:
    def mean_diff(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    res = stats.permutation_test(
        (a, b),
        mean_diff,
        permutation_type="independent",
        n_resamples=np.inf,
        alternative=alternative,
        vectorized=True,
    )
    return float(res.pvalue)


@SETTINGS
@given(small_group, small_group, st.sampled_from(ALTERNATIVES))
def test_exact_matches_scipy_with_ties(a: list[float], b: list[float], alternative: str) -> None:
    result = permutation_test(a, b, alternative)
    assert result.exact and result.n_permutations == math.comb(len(a) + len(b), len(a))
    assert result.pvalue == pytest.approx(scipy_exact(a, b, alternative), abs=1e-12)
    assert result.floor - 1e-12 <= result.pvalue <= 1.0
    assert result.statistic == pytest.approx(np.mean(a) - np.mean(b))


def rational_exact(a: list[int], b: list[int], alternative: str) -> float:
    """Exact p by brute force in rational arithmetic (values are integers / 10**6)."""
    pooled = [Fraction(v, 10**6) for v in a + b]
    total, na, nb = sum(pooled), len(a), len(b)

    def diff(sum_a: Fraction) -> Fraction:
        return sum_a / na - (total - sum_a) / nb

    observed = diff(sum(pooled[:na]))
    diffs = [diff(sum(pooled[i] for i in c)) for c in combinations(range(len(pooled)), na)]
    greater = sum(d >= observed for d in diffs) / len(diffs)
    less = sum(d <= observed for d in diffs) / len(diffs)
    return {"greater": greater, "less": less, "two-sided": min(1.0, 2 * min(greater, less))}[
        alternative
    ]


micro = st.integers(min_value=-(10**8), max_value=10**8)


@SETTINGS
@given(
    st.lists(micro, min_size=1, max_size=5),
    st.lists(micro, min_size=1, max_size=5),
    st.sampled_from(ALTERNATIVES),
)
def test_exact_matches_rational_enumeration_on_decimals(
    a: list[int], b: list[int], alternative: str
) -> None:
    # Decimal data: float sums of tied relabellings differ by rounding noise; the tolerance
    # must still count them as ties (distinct ones differ by >= 1e-6, far above it).
    result = permutation_test([v / 10**6 for v in a], [v / 10**6 for v in b], alternative)
    assert result.pvalue == pytest.approx(rational_exact(a, b, alternative), abs=1e-12)


def test_float_noise_ties_near_zero_difference() -> None:
    # Found by hypothesis: scipy's tie tolerance is relative to the observed statistic, so with
    # an observed difference of ~0 it misses rounding-noise ties (scipy: 0.557); exact is 0.6.
    a, b = [0, 0, -1, 2], [0, 1, -2, 2]
    result = permutation_test([v / 10**6 for v in a], [v / 10**6 for v in b], "greater")
    assert result.pvalue == pytest.approx(0.6) == rational_exact(a, b, "greater")


@pytest.mark.parametrize(
    ("size", "two_sided", "one_sided"), [(3, 2 / 20, 1 / 20), (4, 2 / 70, 1 / 70)]
)
def test_fully_separated_groups_hit_the_floor(
    size: int, two_sided: float, one_sided: float
) -> None:
    low, high = list(range(size)), [10.0 + v for v in range(size)]
    two = permutation_test(low, high)
    assert two.pvalue == pytest.approx(two_sided, abs=1e-15) and two.floor == two.pvalue
    less = permutation_test(low, high, "less")
    assert less.pvalue == pytest.approx(one_sided, abs=1e-15) and less.floor == less.pvalue
    assert permutation_test(low, high, "greater").pvalue == 1.0


def test_groups_of_one() -> None:
    assert permutation_test([0.0], [1.0], "less").pvalue == 0.5
    assert permutation_test([0.0], [1.0]).pvalue == 1.0
    single = permutation_test([10.0], [0.0, 1.0, 2.0])
    assert single.pvalue == pytest.approx(2 / 4) and single.n_permutations == 4


def test_floor_reflects_ties() -> None:
    # Every value identical: every relabelling ties, nothing can be significant.
    flat = permutation_test([2.0, 2.0, 2.0], [2.0, 2.0])
    assert flat.pvalue == 1.0 and flat.floor == 1.0
    # Three of the C(4, 2) = 6 relabellings tie at the top of the distribution.
    tied = permutation_test([5.0, 5.0], [5.0, 0.0], "greater")
    assert tied.floor == pytest.approx(3 / 6)


def test_identical_groups_and_float_noise_ties() -> None:
    assert permutation_test([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]).pvalue == 1.0
    # 0.1 + 0.2 != 0.3 in binary; the tolerance still treats these relabellings as ties
    # (sums 0.1+0.2 and 0.3+0.0 tie; without the tolerance p would be 3/6)
    shifted = permutation_test([0.1, 0.2], [0.3, 0.0], "greater")
    assert shifted.pvalue == pytest.approx(4 / 6) and shifted.floor == pytest.approx(1 / 6)


def test_monte_carlo_fallback_is_seeded_and_close_to_exact() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(0.0, 1.0, 6), rng.normal(0.8, 1.0, 6)
    exact = permutation_test(a, b)
    mc = permutation_test(a, b, max_exact=0, n_resamples=20_000, seed=3)
    assert not mc.exact and mc.n_permutations == 20_000
    counted = mc.pvalue * 20_001 / 2
    assert counted == pytest.approx(round(counted), abs=1e-6)  # p = 2 * (1 + count) / (1 + R)
    assert mc.pvalue == pytest.approx(exact.pvalue, abs=4 * math.sqrt(0.25 / 20_000) + 1e-3)
    assert mc == permutation_test(a, b, max_exact=0, n_resamples=20_000, seed=3)
    assert mc.pvalue != permutation_test(a, b, max_exact=0, n_resamples=20_000, seed=4).pvalue


def test_large_groups_use_monte_carlo_with_its_floor() -> None:
    a, b = np.arange(30.0), np.arange(30.0) + 100.0
    result = permutation_test(a, b, n_resamples=5_000)
    assert not result.exact
    assert result.pvalue == result.floor == pytest.approx(2 / 5_001)
    assert permutation_test(a, b, "less", n_resamples=5_000).pvalue == pytest.approx(1 / 5_001)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": [], "b": [1.0]}, "at least 1"),
        ({"a": [1.0], "b": [float("inf")]}, "NaN or infinite"),
        ({"a": [1.0], "b": [2.0], "alternative": "two_sided"}, "unknown alternative"),
        ({"a": [1.0], "b": [2.0], "n_resamples": 0}, "n_resamples"),
    ],
)
def test_bad_input_raises(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        permutation_test(**kwargs)
