"""Multiplicity adjustment across domains or conditions (Holm step-down, Benjamini–Hochberg FDR).

BH via statsmodels `multipletests`; Holm (1979) as the same closed form statsmodels uses
(tests compare both), computed here because statsmodels' holm branch runs `gc.collect()` on
every call (a tenth of a second in a process holding torch). The caller names the family.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from statsmodels.stats.multitest import multipletests


def _holm_sorted(pvalues: np.ndarray) -> np.ndarray:
    """Holm's adjusted p-values of ascending `pvalues`: running max of (m - i) * p_(i), cut at 1."""
    m = pvalues.size
    return np.minimum(np.maximum.accumulate(pvalues * np.arange(m, 0, -1)), 1.0)


def _adjust(pvalues: Iterable[float], method: str) -> list[float]:
    """Adjusted p-values in input order; NaN stays NaN and is not counted."""
    values = np.asarray(list(pvalues), dtype=np.float64)
    defined = ~np.isnan(values)
    if np.any((values[defined] < 0) | (values[defined] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(values.shape, math.nan)
    if defined.any():
        kept = values[defined]
        if method == "holm":
            order = np.argsort(kept, kind="stable")
            out = np.empty_like(kept)
            out[order] = _holm_sorted(kept[order])
            adjusted[defined] = out
        else:
            adjusted[defined] = multipletests(kept, method=method)[1]
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
