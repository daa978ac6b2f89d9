"""How two runs' bench records pair in `gate --baseline` and `compare`: as in the analysis
(cells.py), on a stable per-document key, lm-eval's content hash `doc_hash` (with an occurrence
number for identical documents, in doc_id order) when both runs carry it on every record, else on
`doc_id`. doc_id alone is not trusted (lm-eval issue #4084 mislabels it for unsorted `samples=`):
documents renumbered between runs still pair, and documents whose ids match while their hashes
differ are different texts, an InputError naming the document (exit 2).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from crma_eval import InputError
from crma_eval.plugins.bench.cells import pair_keys
from crma_eval.plugins.bench.checks import location

DOCUMENT = "document"  # the derived key column
HASH = "doc_hash"
# Fields within which one document key is unique (arm and subtask only tell records apart).
SCOPE = ("task", "arm", "subtask", "metric", "filter", "seed", "checkpoint")
SAME_TEXT = ("task", "metric", "filter")


def plain(value: Any) -> Any:
    """A doc_id that compares equal across files: 7, 7.0 and "7" all as "7"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _hashed(frame: pd.DataFrame) -> bool:
    return HASH in frame.columns and bool(frame[HASH].notna().all())


def _ids(frame: pd.DataFrame) -> pd.Series:
    return frame["doc_id"].map(plain)


def _keys(frame: pd.DataFrame) -> pd.Series:
    """hash#occurrence per record, numbered within its SCOPE group (cells.pair_keys)."""
    scope = [c for c in SCOPE if c in frame.columns]
    grouped = frame.assign(**{c: frame[c].astype(object).fillna("") for c in scope})
    keys = pd.Series("", index=frame.index, dtype=object)
    for _, rows in grouped.groupby(scope, sort=False, dropna=False) if scope else [((), grouped)]:
        keys.loc[rows.index] = pair_keys(rows.assign(doc_id=_ids(rows)), True)
    return keys


def _where(frame: pd.DataFrame) -> pd.Series:
    parts = [frame[c].astype(object).fillna("").astype(str) for c in SAME_TEXT if c in frame]
    out = pd.Series("", index=frame.index, dtype=object)
    for part in parts:
        out = out + part + "\x00"
    return out


def _check_same_texts(base: pd.DataFrame, cur: pd.DataFrame) -> None:
    """InputError at the first document whose hash has no partner while the other run has a
    record with its doc_id (same task, metric, filter) and another hash: a changed text."""
    sides = ((base, cur, "baseline", "current run"), (cur, base, "current run", "baseline"))
    for mine, other, name, other_name in sides:
        hashes = set(_where(other) + other[HASH].astype(str))
        lonely = ~(_where(mine) + mine[HASH].astype(str)).isin(hashes)
        ids = _where(other) + _ids(other)
        same_id = (_where(mine) + _ids(mine)).isin(set(ids))
        clash = (lonely & same_id).to_numpy()
        if not clash.any():
            continue
        row = mine[clash].iloc[0]
        partner = other[(ids == _where(mine[clash]).iloc[0] + _ids(mine[clash]).iloc[0])].iloc[0]
        there = location(partner)
        raise InputError(
            f"bench task {row['task']!r} document {plain(row['doc_id'])!r}: doc_hash "
            f"{row[HASH]!r} in the {name} but {partner[HASH]!r} in the {other_name} "
            f"({there['path']}:{there['line']}): the same id names different texts, so the runs "
            "read different task data; compare runs collected from the same task data "
            "(documents pair on doc_hash, not doc_id)",
            field=HASH, **location(row),
        )  # fmt: skip


def prepare(base: pd.DataFrame, cur: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both runs' records with a `document` key column: hash#occurrence when both runs carry
    doc_hash on every record, else doc_id. InputError for ids naming different texts."""
    if _hashed(base) and _hashed(cur):
        _check_same_texts(base, cur)
        return base.assign(**{DOCUMENT: _keys(base)}), cur.assign(**{DOCUMENT: _keys(cur)})
    return base.assign(**{DOCUMENT: _ids(base)}), cur.assign(**{DOCUMENT: _ids(cur)})
