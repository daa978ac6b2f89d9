"""Multiplicity adjustment across domains or conditions (Holm step-down, via statsmodels)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from statsmodels.stats.multitest import multipletests


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm-adjusted p-values in input order; empty input gives [].

    NaN p-values (undefined tests) stay NaN and do not count towards the number of tests,
    like R's p.adjust. Values outside [0, 1] raise ValueError.
    """
    values = np.asarray(list(pvalues), dtype=np.float64)
    defined = ~np.isnan(values)
    if np.any((values[defined] < 0) | (values[defined] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(values.shape, math.nan)
    if defined.any():
        adjusted[defined] = multipletests(values[defined], method="holm")[1]
    return [float(v) for v in adjusted]
