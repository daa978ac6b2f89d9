"""Review statistics (issue 20): Fleiss' kappa on every item with ratings, corrected-accuracy
intervals that never collapse to a point from a sample."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from crma_eval.review.agreement import agreement_summary, fleiss
from crma_eval.review.estimate import corrected_accuracy

Z = norm.isf(0.025)


def _gwet_fleiss(matrix: np.ndarray) -> float:
    """Gwet's missing-label Fleiss kappa written out item by item (independent of the code)."""
    agree, shares = [], []
    for column in matrix.T:
        labels = column[~np.isnan(column)]
        r = labels.size
        if r == 0:
            continue
        counts = [np.sum(labels == 0), np.sum(labels == 1)]
        shares.append([c / r for c in counts])
        if r >= 2:
            agree.append(sum(c * (c - 1) for c in counts) / (r * (r - 1)))
    pe = sum(p**2 for p in np.mean(shares, axis=0))
    return (np.mean(agree) - pe) / (1 - pe)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(3, 30), st.integers(0, 10_000))
def test_fleiss_on_complete_ratings_is_statsmodels(raters: int, items: int, seed: int) -> None:
    m = (np.random.default_rng(seed).random((raters, items)) < 0.6).astype(float)
    table, _ = aggregate_raters(m.T.astype(int), n_cat=2)
    expected = fleiss_kappa(table, method="fleiss")
    assert fleiss(m) == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_fleiss_uses_every_item_with_two_labels() -> None:
    """Issue 20: 80 items, 3 raters, only 7 complete. Complete-item kappa (-0.17) said nothing of
    the 73 others; on every item with two labels it sits near Krippendorff's alpha."""
    rng = np.random.default_rng(11)
    truth = rng.random(80) < 0.6
    m = np.array([np.where(rng.random(80) < 0.85, truth, ~truth) for _ in range(3)], float)
    skip = np.ones((3, 80), bool)
    for j in range(80):  # items 0-6 labelled by all; the rest by two raters
        if j >= 7:
            skip[rng.choice(3), j] = False
    m[~skip] = np.nan
    kappa = fleiss(m)
    assert kappa == pytest.approx(_gwet_fleiss(m), abs=1e-12)
    # irrCAC 0.4.4 (Python port of Gwet's R irrCAC): CAC(pd.DataFrame(m.T), digits=10).fleiss()
    assert kappa == pytest.approx(0.4595853715, abs=1e-9)
    alpha = krippendorff.alpha(reliability_data=m, level_of_measurement="nominal")
    assert abs(kappa - alpha) < 0.02  # same chance model, large-sample equivalent
    summary = agreement_summary(m, 0.95, seed=0, resamples=200)
    assert summary["fleiss"]["n_items"] == 80 and summary["fleiss"]["n_complete"] == 7
    assert summary["fleiss"]["estimate"] == pytest.approx(kappa)


def test_corrected_interval_from_agreeing_reviews_is_not_a_point() -> None:
    """Issue 20: 3 reviews of 60 answers, all agreeing with the scorer: 0.700 [0.700, 0.700]."""
    out = corrected_accuracy([{"N": 60, "auto_correct": 42, "diffs": [0, 0, 0]}], 0.95)
    assert out["estimate"] == pytest.approx(0.7)
    # Agresti–Min: q+ = q- = 0.5 / 5, variance (0.2 - 0) / 5, finite-population factor 57/60.
    se = np.sqrt((1 - 3 / 60) * 0.2 / 5)
    assert out["se"] == pytest.approx(se)
    assert out["ci_low"] == pytest.approx(0.7 - Z * se) and out["ci_high"] == pytest.approx(1.0)
    # More agreeing reviews: narrower, still not a point; a full census is exact.
    more = corrected_accuracy([{"N": 60, "auto_correct": 42, "diffs": [0] * 30}], 0.95)
    assert 0 < more["ci_high"] - more["ci_low"] < out["ci_high"] - out["ci_low"]
    census = corrected_accuracy([{"N": 5, "auto_correct": 3, "diffs": [0] * 5}], 0.95)
    assert census["ci_low"] == census["ci_high"] == pytest.approx(0.6)


def test_corrected_variance_keeps_the_sample_variance_when_larger() -> None:
    d = np.array([1, -1] * 10)
    out = corrected_accuracy([{"N": 1000, "auto_correct": 500, "diffs": list(d)}], 0.95)
    sample = (1 - 20 / 1000) * d.var(ddof=1) / 20
    adjusted = (1 - 20 / 1000) * (10.5 / 22 + 10.5 / 22) / 22
    assert out["se"] ** 2 == pytest.approx(max(sample, adjusted))
