"""Reference implementations the tests compare against, wrapped where the library does more
than compute (statsmodels' Holm branch runs a full `gc.collect()` on every call)."""

from __future__ import annotations

from collections.abc import Sequence
from unittest import mock

import numpy as np
from statsmodels.stats.multitest import multipletests


def statsmodels_holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """statsmodels' Holm-adjusted p-values (`multipletests(p, method="holm")[1]`), without the
    garbage collection its holm branch runs (seconds over a suite; the values do not need it)."""
    with mock.patch("gc.collect"):
        return multipletests(pvalues, method="holm")[1]
