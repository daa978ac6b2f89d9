"""Paired percentile bootstrap: pairing, reproducibility, agreement with a plain numpy bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from crma_eval.stats import mean_difference, paired_bootstrap_ci


def test_mean_difference() -> None:
    assert mean_difference(np.array([3.0, 5.0]), np.array([1.0, 1.0])) == 3.0
    batch = mean_difference(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2)), axis=-1)
    assert list(batch) == [1.5, 3.5]


def test_resamples_pairs_jointly() -> None:
    # y = x - 0.5 exactly: every paired resample has mean difference 0.5; an unpaired
    # resampling of x and y would give a wide interval.
    x = np.random.default_rng(1).normal(size=50)
    result = paired_bootstrap_ci(x, x - 0.5, n_resamples=2_000)
    assert result.estimate == pytest.approx(0.5)
    assert result.low == pytest.approx(0.5) and result.high == pytest.approx(0.5)
    assert result.method == "percentile"


def test_agrees_with_a_numpy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 1.0, 80)
    y = 0.6 * x + rng.normal(0.0, 0.5, 80)
    result = paired_bootstrap_ci(x, y, n_resamples=5_000, seed=11)
    idx = np.random.default_rng(99).integers(0, 80, size=(5_000, 80))
    boot = (x[idx] - y[idx]).mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    width = high - low
    assert result.estimate == pytest.approx(np.mean(x - y))
    assert result.low == pytest.approx(low, abs=0.1 * width)
    assert result.high == pytest.approx(high, abs=0.1 * width)
    assert result.low < result.estimate < result.high


def test_seeded_and_confidence_nested() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.random(40), rng.random(40)
    first = paired_bootstrap_ci(x, y, n_resamples=2_000, seed=5)
    assert first == paired_bootstrap_ci(x, y, n_resamples=2_000, seed=5)
    assert first != paired_bootstrap_ci(x, y, n_resamples=2_000, seed=6)
    wide = paired_bootstrap_ci(x, y, confidence=0.99, n_resamples=2_000, seed=5)
    assert wide.low < first.low and first.high < wide.high


def test_statistic_without_axis_argument() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.random(30), rng.random(30)

    def median_difference(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.median(a - b))

    result = paired_bootstrap_ci(x, y, stat=median_difference, n_resamples=500)
    assert result.estimate == pytest.approx(np.median(x - y))
    assert result.low <= result.estimate <= result.high


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "message"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], {}, "same length"),
        ([1.0], [1.0], {}, "at least 2"),
        ([1.0, 2.0], [1.0, 2.0], {"confidence": 95}, "confidence"),
        ([1.0, 2.0], [1.0, 2.0], {"n_resamples": 0}, "n_resamples"),
    ],
)
def test_bad_input_raises(x: list, y: list, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap_ci(x, y, **kwargs)
