"""Cells of the bench analysis (one task's metric under one filter and arm) and how two arms'
cells pair: on a stable per-document key, lm-eval's `doc_hash` (a hash of the document's content)
when every record has one, else `doc_id`; identical documents are told apart by their order.
doc_id alone is not trusted (lm-eval issue #4084 mislabels it for unsorted `samples=`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import InputError, pair
from crma_eval.plugins.bench.checks import location

NO_FILTER = "none"
# Pairing keys of bench documents (crma_eval.pairing uses those both arms carry).
PAIR_KEYS = ["document", "seed", "checkpoint"]


@dataclass(frozen=True)
class Cell:
    """Per-document values of one task's score under one filter and arm, indexed by pair key."""

    task: str
    metric: str
    filter: str
    arm: str
    values: pd.Series
    rows: pd.DataFrame
    scale: str = "fraction"
    named: bool = False  # the task reports several metrics: names carry the metric

    @property
    def weights(self) -> np.ndarray | None:
        """lm-eval's words/bytes of rolling log-likelihood records (None without them)."""
        if "weight" not in self.rows or self.rows["weight"].isna().any():
            return None
        return self.rows["weight"].astype(float).to_numpy()

    def located(self, exc: InputError, arm: str) -> InputError:
        """`exc` naming this cell's task, filter and `arm` (words) and its records' file."""
        files = sorted({str(f) for f in self.rows["_file"]}) if "_file" in self.rows else []
        return InputError(
            f"task {self.task!r}, filter {self.filter!r}, {arm}: {exc.problem}",
            path=files[0] if len(files) == 1 else None,
            field=exc.field,
        )

    @property
    def direction(self) -> dict[str, bool]:
        """{"higher_is_better": lm-eval's flag} when every record carries the same one, else {}."""
        if "higher_is_better" not in self.rows:
            return {}
        flags = set(self.rows["higher_is_better"].tolist())
        return {"higher_is_better": flags.pop()} if flags in ({True}, {False}) else {}


def _natural(doc_id: str) -> tuple[Any, ...]:
    """Sort key that orders "doc2" before "doc10"."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(doc_id)))


def pair_keys(rows: pd.DataFrame, by_hash: bool) -> list[str]:
    """Stable per-document keys: doc_hash plus occurrence number (in doc_id order), or doc_id."""
    doc_ids = rows["doc_id"].astype(str).tolist()
    if not by_hash:
        return doc_ids
    hashes = rows["doc_hash"].astype(str).tolist()
    seen: dict[str, int] = {}
    keys = [""] * len(doc_ids)
    for j in sorted(range(len(doc_ids)), key=lambda j: _natural(doc_ids[j])):
        seen[hashes[j]] = seen.get(hashes[j], -1) + 1
        keys[j] = f"{hashes[j]}#{seen[hashes[j]]}"
    return keys


def pairing(frame: pd.DataFrame) -> str:
    """`doc_hash` when every record carries one, else `doc_id`."""
    return "doc_hash" if "doc_hash" in frame and bool(frame["doc_hash"].notna().all()) else "doc_id"


def _side(cell: Cell) -> pd.DataFrame:
    """One cell as a pairing side: document key, row position, seed/checkpoint, location."""
    side = pd.DataFrame({"document": cell.values.index, "position": np.arange(cell.values.size)})
    for column in ("seed", "checkpoint", "_file", "_line"):
        if column in cell.rows.columns:
            side[column] = cell.rows[column].to_numpy()
    return side


def paired(cell: Cell, base: Cell) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The two cells' values matched by crma_eval.pairing on document (+ seed, checkpoint), and
    the documents' weights (`paired_weights`)."""
    names = (f"bench task {cell.task!r} arm {cell.arm!r}", f"arm {base.arm!r}")
    matched = pair(_side(cell), _side(base), "position", PAIR_KEYS, names, "document")
    mine, theirs = (matched.frame[k].to_numpy(np.int64) for k in ("x", "y"))
    after, before = cell.values.to_numpy(float)[mine], base.values.to_numpy(float)[theirs]
    return after, before, paired_weights(cell, base, mine, theirs)


def paired_weights(
    cell: Cell, base: Cell, mine: np.ndarray, theirs: np.ndarray
) -> np.ndarray | None:
    """The words/bytes of each paired document, equal under both arms (they count the document's
    text, not tokens); None without weights. A document weighing differently under the two arms
    was not the same document: InputError naming the task, the document and both records."""
    if cell.weights is None or base.weights is None:
        assert cell.weights is None and base.weights is None  # checks.check_records: all or none
        return None
    mine_w, theirs_w = cell.weights[mine], base.weights[theirs]
    differ = np.flatnonzero(mine_w != theirs_w)
    if differ.size == 0:
        return mine_w
    row, other = cell.rows.iloc[mine[differ[0]]], base.rows.iloc[theirs[differ[0]]]
    there = location(other)
    where = f"{there['path']}:{there['line']}"
    raise InputError(
        f"bench task {cell.task!r} metric {cell.metric!r} document {row['doc_id']!r}: weight "
        f"{row['weight']:g} under arm {cell.arm!r} but {other['weight']:g} under arm "
        f"{base.arm!r} ({where}); words/bytes count the document's text, so the arms read "
        "different documents: recollect both arms from the same task data",
        field="weight", **location(row),
    )  # fmt: skip
