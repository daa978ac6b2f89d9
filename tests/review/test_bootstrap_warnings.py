"""Bootstrap resamples where Cohen's kappa is undefined (one label only) print no warnings: they
are counted, and the method says "k of N resamples undefined" once."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import cohen_kappa_score

from crma_eval.review.agreement import _pair, bootstrap


def test_undefined_resamples_are_counted_not_printed() -> None:
    matrix = np.ones((2, 8))
    matrix[0, 0] = 0.0  # one disagreement: most resamples hold a single label
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = bootstrap(_pair(0, 1), matrix, 0.95, seed=3, resamples=200)
    assert [str(w.message) for w in caught] == []
    rng = np.random.default_rng(3)  # the same draws, scored by scikit-learn directly
    expected = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(200):
            cols = rng.integers(0, 8, 8)
            value = cohen_kappa_score(matrix[0, cols].astype(int), matrix[1, cols].astype(int))
            expected += bool(np.isnan(value))
    assert 0 < expected < 200
    assert out["undefined"] == expected
    assert out["method"].endswith(f"; {expected} of 200 resamples undefined")
