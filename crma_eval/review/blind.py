"""The blinded-review workflow's sheets: one writer and one strict reader for every review.

A review writes a spreadsheet-safe CSV (crma_eval.csvsafe) of shuffled items without the names
that would unblind a reviewer, and keeps the key (which item is which, the seed, whatever the
summary needs) in RUN_DIR/<folder>/<id>.json. Reviewers fill the `label` column; their sheets are
read back strictly: the key must exist and pass its check, every item exactly once, every label
known, the same rater never twice. QA answers (`crma-eval review`, crma_eval.review.sheet) and
the GSM8K scorer audit (`crma-eval audit gsm8k`, crma_eval.review.audit) are its two uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crma_eval.csvsafe import read_csv, write_csv
from crma_eval.errors import InputError
from crma_eval.safeload import read_json
from crma_eval.store import write_json_atomic


@dataclass(frozen=True)
class SheetFormat:
    """One kind of review sheet.

    noun: what one review is called in messages ("review", "audit"); folder: where its keys live
    under RUN_DIR; columns: the CSV header, the review id first, with `item` and `label`; labels:
    accepted label spellings (lower case) -> 1.0 / 0.0 (NaN for a skipped item, where blank is
    allowed); check_key: the key's shape check (InputError naming the key file and field).
    """

    noun: str
    folder: str
    columns: tuple[str, ...]
    labels: dict[str, float]
    check_key: Callable[[Any, Path], dict[str, Any]]

    @property
    def id_column(self) -> str:
        return self.columns[0]


def sheet_id(prefix: str, fingerprint: Any) -> str:
    """A review id from what determines the sheet: `prefix-` and 12 hex digits of its SHA-256."""
    return f"{prefix}-{hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:12]}"


def key_path(run_dir: Path, fmt: SheetFormat, review_id: str) -> Path:
    """Where the key of review `review_id` lives."""
    return Path(run_dir) / fmt.folder / f"{review_id}.json"


def write_sheet(
    run_dir: Path, fmt: SheetFormat, key: dict[str, Any], rows: list[list[Any]], out_csv: Path
) -> None:
    """Write the key (staged, then renamed), then the sheet (rows in `fmt.columns` order)."""
    write_json_atomic(key_path(run_dir, fmt, key[fmt.id_column]), key)
    write_csv(out_csv, fmt.columns, rows)


def _cell(row: dict[str, Any], column: str) -> str:
    return (row.get(column) or "").strip()


def _open_key(
    run_dir: Path, fmt: SheetFormat, rid: str, csv_path: Path, line: int
) -> dict[str, Any]:
    path = key_path(run_dir, fmt, rid)
    if "/" in rid or "\\" in rid or not path.exists():
        raise InputError(f"unknown {fmt.id_column} {rid!r} (no key {path})", path=csv_path,
                         line=line, field=fmt.id_column)  # fmt: skip
    return fmt.check_key(read_json(path), path)


def _label(fmt: SheetFormat, raw: str, csv_path: Path, line: int) -> float:
    label = raw.strip().lower()
    if label in fmt.labels:
        return fmt.labels[label]
    expected = "correct, incorrect or blank" if "" in fmt.labels else "correct or incorrect"
    problem = "no label" if not label else f"unknown label {raw!r}"
    raise InputError(f"{problem} (expected {expected})", path=csv_path, line=line, field="label")


def read_sheet(
    run_dir: Path, fmt: SheetFormat, csv_path: Path
) -> tuple[dict[str, Any], dict[str, float]]:
    """(key, item -> label value) of one reviewed sheet; InputError naming file, line and field
    for an unknown review, rows of two reviews, an unknown or repeated item, a bad label, or
    missing rows. Blank rows (a spreadsheet adds them at the end) are passed over."""
    header, rows = read_csv(csv_path)
    missing = {fmt.id_column, "item", "label"} - set(header)
    if missing:
        raise InputError(f"missing column(s) {', '.join(sorted(missing))}", path=csv_path, line=1)
    key: dict[str, Any] | None = None
    labels: dict[str, float] = {}
    for line, row in rows:
        if not any((cell or "").strip() for cell in row.values()):
            continue
        rid = _cell(row, fmt.id_column)
        key = key or _open_key(run_dir, fmt, rid, csv_path, line)
        if rid != key[fmt.id_column]:
            raise InputError(f"rows of two {fmt.noun}s in one CSV", path=csv_path, line=line,
                             field=fmt.id_column)  # fmt: skip
        item = _cell(row, "item")
        if item in labels:
            raise InputError(f"item {item!r} appears twice", path=csv_path, line=line, field="item")
        if item not in key["items"]:
            raise InputError(f"extra row: item {item!r} is not in {fmt.noun} {rid}",
                             path=csv_path, line=line, field="item")  # fmt: skip
        labels[item] = _label(fmt, row.get("label") or "", csv_path, line)
    if key is None:
        raise InputError("no reviewed rows", path=csv_path)
    absent = sorted(set(key["items"]) - set(labels))
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise InputError(f"missing rows: {len(absent)} of {len(key['items'])} items ({shown})",
                         path=csv_path)  # fmt: skip
    return key, labels


def _refuse_duplicate_raters(paths: list[Path]) -> None:
    """InputError naming the second of two sheets that are the same file or byte-identical (one
    rater counted twice would inflate agreement to 1)."""
    seen: dict[object, Path] = {}
    for path in paths:
        try:
            ident: object = path.resolve(strict=True)
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue  # read_sheet reports an unreadable sheet
        for mark, why in ((ident, "the same file as"), (content, "byte-identical to")):
            if mark in seen:
                raise InputError(
                    f"{why} {seen[mark]}: the same rater given twice (each rater's sheet once)",
                    path=path,
                )
            seen[mark] = path


def read_sheets(
    run_dir: Path, fmt: SheetFormat, csv_paths: Sequence[Path]
) -> tuple[dict[str, Any], list[str], np.ndarray]:
    """(key, items sorted, labels raters x items) of every reviewer's sheet of one review."""
    if not csv_paths:
        raise InputError("no reviewed CSV given")
    paths = [Path(p) for p in csv_paths]
    _refuse_duplicate_raters(paths)
    reviews = [read_sheet(run_dir, fmt, p) for p in paths]
    key = reviews[0][0]
    for path, (other, _) in zip(paths, reviews, strict=True):
        if other[fmt.id_column] != key[fmt.id_column]:
            raise InputError(f"sheet of {fmt.noun} {other[fmt.id_column]}, expected "
                             f"{key[fmt.id_column]}", path=path)  # fmt: skip
    items = sorted(key["items"])
    matrix = np.array([[labels[i] for i in items] for _, labels in reviews], dtype=float)
    return key, items, matrix
