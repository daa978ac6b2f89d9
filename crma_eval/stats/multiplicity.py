"""Multiplicity adjustment across domains or conditions (Holm step-down, Benjamini–Hochberg FDR).

Both via statsmodels `multipletests`; the caller names the family each adjustment runs over.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from statsmodels.stats.multitest import multipletests


def _adjust(pvalues: Iterable[float], method: str) -> list[float]:
    """statsmodels-adjusted p-values in input order; NaN stays NaN and is not counted."""
    values = np.asarray(list(pvalues), dtype=np.float64)
    defined = ~np.isnan(values)
    if np.any((values[defined] < 0) | (values[defined] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(values.shape, math.nan)
    if defined.any():
        adjusted[defined] = multipletests(values[defined], method=method)[1]
    return [float(v) for v in adjusted]


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm-adjusted p-values in input order; empty input gives [].

    NaN p-values (undefined tests) stay NaN and do not count towards the number of tests,
    like R's p.adjust. Values outside [0, 1] raise ValueError.
    """
    return _adjust(pvalues, "holm")


def benjamini_hochberg(pvalues: Iterable[float]) -> list[float]:
    """Benjamini–Hochberg (FDR) adjusted p-values in input order, as R's p.adjust(method="BH").

    NaN handling and errors as `holm`.
    """
    return _adjust(pvalues, "fdr_bh")
