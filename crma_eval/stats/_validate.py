"""Shared input checks for the stats package; every failure is a ValueError with a clear message."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray


def check_count(value: object, name: str) -> int:
    """Return `value` as a non-negative int, rejecting floats, bools and negatives."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer count, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def check_confidence(confidence: object) -> float:
    """Return the confidence level as a float strictly between 0 and 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    level = float(confidence)
    if not 0.0 < level < 1.0:  # also rejects NaN
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return level


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`, else raise naming the allowed ones."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return str(value)


def finite_sample(values: ArrayLike, name: str, min_size: int = 1) -> NDArray[np.float64]:
    """Return a 1-D float array of finite values with at least `min_size` elements."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} value(s), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def binary_array(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    """Return a 1-D bool array; integer input is accepted only if every value is 0 or 1."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must contain only booleans (or 0/1)")
    return arr.astype(np.bool_)


def paired_binary(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Validate two paired correctness arrays of equal, non-zero length."""
    xa, ya = binary_array(x, "x"), binary_array(y, "y")
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must be paired (same length), got {xa.size} and {ya.size}")
    if xa.size == 0:
        raise ValueError("x and y must not be empty")
    return xa, ya


def clip_unit(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """Clip a float into [low, high] (closed-form limits can overshoot by rounding)."""
    return min(max(value, low), high)
