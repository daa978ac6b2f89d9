"""Helpers of the plugins' drill-down lists (crma_eval.api.Items): columns and rows of records."""

from __future__ import annotations

from typing import Any

import pandas as pd


def optional_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Column `name` of `frame`, or a column of None when the records lack that field."""
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)


def item_rows(columns: list[pd.Series]) -> list[list[Any]]:
    """Row lists from equally long columns, built column-wise (no per-cell Python loop).

    Missing cells become None (NaN would print as a number)."""
    frame = pd.concat([c.reset_index(drop=True).astype(object) for c in columns], axis=1)
    return frame.where(frame.notna(), None).to_numpy(object).tolist()
