"""Absent values, as records and data frames carry them (shared by every layer)."""

from __future__ import annotations

import math
from typing import Any


def missing(value: Any) -> bool:
    """True for absent values: None, or NaN (how data frames store an absent number)."""
    return value is None or (isinstance(value, float) and math.isnan(value))
