"""One pairing rule for every paired comparison (ablation arms, bench arms, gate --baseline).

Two sides (record frames) are matched on every key both sides carry. When the sides carry
different checkpoint ids, the checkpoint cannot match, so they are paired on the remaining keys
(e.g. domain, item_id, seed) provided those identify one record on each side. A key that does
not identify one record per side, or a record without a partner, is an InputError (exit 2) that
says why; nothing is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crma_eval.errors import InputError
from crma_eval.naming import slug

CHECKPOINT = "checkpoint"
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Paired:
    """Matched values: `frame` has the key columns plus `x` (left) and `y` (right), left order."""

    frame: pd.DataFrame
    keys: list[str]
    note: str


def plain(value: Any) -> Any:
    """A key part that compares equal across files (NaN -> None, 1.0 -> 1, other -> str)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, str)) else str(value)


def _carried(frame: pd.DataFrame, key: str) -> bool:
    return key in frame.columns and bool(frame[key].notna().any())


def _normalised(column: pd.Series) -> pd.Series:
    """A key column that compares equal across files: integral floats as integers, text as text."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(object)
    if pd.api.types.is_numeric_dtype(column):
        values = column.dropna()
        if values.empty or bool((values == values.round()).all()):
            return column.astype("Int64").astype(object).where(column.notna(), None)
        return column.astype(object)
    return column.astype(object).where(column.notna(), None)


def _key_frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame({k: _normalised(frame[k]) for k in keys}, index=frame.index)


def _describe(keys: list[str], row: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(keys, row, strict=True))


def _location(frame: pd.DataFrame, index: Any) -> dict[str, Any]:
    if "_file" in frame.columns and "_line" in frame.columns:
        return {"path": frame.at[index, "_file"], "line": int(frame.at[index, "_line"])}
    return {}


def _codes(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> tuple[Any, Any, Any]:
    """Normalised key frames of both sides and one integer code per distinct key (both sides)."""
    keyed = [_key_frame(side, keys) for side in (left, right)]
    both = pd.concat(keyed, ignore_index=True)
    codes = both.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    return keyed, codes[: len(left)], codes[len(left) :]


def _check_unique(
    frame: pd.DataFrame, keyed: pd.DataFrame, codes: Any, keys: list[str], side: str
) -> None:
    dup = pd.Series(codes).duplicated(keep="first").to_numpy()
    if dup.any():
        first = frame.index[int(dup.argmax())]
        raise InputError(
            f"pairing is ambiguous: {side} has several records for "
            f"({_describe(keys, keyed.loc[first])}); add the field that tells them apart "
            "(e.g. seed or checkpoint) or select one of them",
            **_location(frame, first),
        )


def _check_matched(
    left: pd.DataFrame,
    right: pd.DataFrame,
    keyed: list[pd.DataFrame],
    codes: list[Any],
    keys: list[str],
    names: tuple[str, str],
    noun: str,
) -> None:
    """InputError listing (up to MAX_EXAMPLES per side) the records without a partner."""
    parts: list[str] = []
    located: dict[str, Any] = {}
    for mine, other in ((0, 1), (1, 0)):
        lonely = np.flatnonzero(~np.isin(codes[mine], codes[other]))
        if lonely.size == 0:
            continue
        frame = (left, right)[mine]
        shown = [frame.index[i] for i in lonely[:MAX_EXAMPLES]]
        examples = "; ".join(f"({_describe(keys, keyed[mine].loc[i])})" for i in shown)
        more = f" and {lonely.size - MAX_EXAMPLES} more" if lonely.size > MAX_EXAMPLES else ""
        parts.append(
            f"{names[mine]} has {examples}{more} with no matching {noun} in {names[other]} "
            f"({lonely.size} unmatched record(s))"
        )
        located = located or _location(frame, shown[0])
    if parts:
        raise InputError(
            "; ".join(parts) + f". Paired sides must answer the same items (matched on "
            f"{', '.join(keys)})",
            **located,
        )


def pairing_keys(left: pd.DataFrame, right: pd.DataFrame, candidates: list[str]) -> list[str]:
    """The candidate keys both sides carry; the checkpoint is dropped when the sides' ids differ."""
    keys = [k for k in candidates if _carried(left, k) and _carried(right, k)]
    if CHECKPOINT in keys:
        ids = [set(_normalised(side[CHECKPOINT]).dropna()) for side in (left, right)]
        if ids[0] != ids[1]:
            keys.remove(CHECKPOINT)
    return keys


def pair(
    left: pd.DataFrame,
    right: pd.DataFrame,
    value: str,
    candidates: list[str],
    names: tuple[str, str] = ("left", "right"),
    noun: str = "item",
) -> Paired:
    """Match left and right on `pairing_keys`; InputError as `pair_shared`, and when disjoint."""
    matched = pair_shared(left, right, value, candidates, names, noun, disjoint_ok=False)
    assert matched is not None  # disjoint sides raise: every record lacks a partner
    return matched


def pair_shared(
    left: pd.DataFrame,
    right: pd.DataFrame,
    value: str,
    candidates: list[str],
    names: tuple[str, str] = ("left", "right"),
    noun: str = "item",
    disjoint_ok: bool = True,
) -> Paired | None:
    """Match left and right rows on `pairing_keys`; values of column `value` become x and y.

    Raises InputError when a key matches several records on one side (ambiguous) or a record has
    no partner on the other side (the message names the side, the key and the record's file/line).
    With `disjoint_ok`, sides sharing no key at all are unrelated: None, not an error.
    """
    keys = pairing_keys(left, right, candidates)
    keyed, *codes = _codes(left, right, keys)
    if disjoint_ok and not np.isin(codes[0], codes[1]).any():
        return None
    for frame, side, code, name in zip((left, right), keyed, codes, names, strict=True):
        _check_unique(frame, side, code, keys, name)
    _check_matched(left, right, keyed, codes, keys, names, noun)
    position = np.empty(int(codes[1].max()) + 1 if codes[1].size else 0, dtype=np.int64)
    position[codes[1]] = np.arange(codes[1].size)
    out = keyed[0].reset_index(drop=True)
    out["x"] = left[value].to_numpy()
    out["y"] = right[value].to_numpy()[position[codes[0]]]
    dropped = [k for k in candidates if k not in keys and _carried(left, k) and _carried(right, k)]
    note = f"matched on {', '.join(keys)}"
    if dropped:
        note += f" (sides carry different {', '.join(dropped)} ids)"
    return Paired(out, keys, note)


ITEM = "_item"


def item_clusters(frame: pd.DataFrame) -> pd.Series:
    """The unit of analysis of each record: its item, (domain, item_id), as one integer label.

    Uses the precomputed `_item` column when the frame has one (see `with_items`).
    """
    if ITEM in frame.columns:
        return frame[ITEM]
    return frame.groupby(["domain", "item_id"], sort=False).ngroup()


def with_items(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with an `_item` column of integer item labels, computed once for many groups."""
    return frame.assign(**{ITEM: item_clusters(frame).to_numpy()})


def repeats_items(frame: pd.DataFrame) -> bool:
    """True when some item (domain, item_id) has several records (seeds, checkpoints)."""
    return bool(item_clusters(frame).duplicated().any())


def conditions(frame: pd.DataFrame) -> list[Any]:
    """Training conditions to keep apart: [None] unless records carry more than one condition."""
    if "condition" not in frame.columns:
        return [None]
    found = list(pd.unique(frame["condition"].astype(object).where(frame["condition"].notna())))
    return found if len(found) > 1 else [None]


def of_condition(frame: pd.DataFrame, condition: Any) -> pd.DataFrame:
    """The records of one condition (all records for None; NaN condition matches a None value)."""
    if condition is None and "condition" not in frame.columns:
        return frame
    if condition is None:
        many = len(conditions(frame)) > 1
        return frame[frame["condition"].isna()] if many else frame
    return frame[frame["condition"] == condition]


def select_slugged(frame: pd.DataFrame | None, wanted: dict[str, str]) -> pd.DataFrame:
    """Rows whose fields, slugged as in metric names, equal the given metric name segments."""
    if frame is None or frame.empty:
        return pd.DataFrame()
    mask = pd.Series(True, index=frame.index)
    for column, value in wanted.items():
        if column not in frame.columns:
            return frame.iloc[:0]
        mask &= frame[column].map(slug) == value
    return frame[mask]
