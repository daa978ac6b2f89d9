"""Check a QA review key (RUN_DIR/review/<id>.json) before use: a tampered key is exit 2 naming it.

The key is written by `crma-eval review export`; import reads its items, cells and seed. Every
entry import relies on is checked for type and range here, so a hand-edited or damaged key is
one bad-input line naming the file and field, never an internal error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crma_eval.errors import InputError

HINT = "the review key does not match what `review export` writes (edited by hand?)"


def _fail(path: Path, field: str, problem: str) -> InputError:
    return InputError(f"{problem}; {HINT}", path=path, field=field)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**12


def _check_items(key: dict[str, Any], path: Path) -> None:
    items = key.get("items")
    if not isinstance(items, dict) or not items:
        raise _fail(path, "items", "expected a non-empty JSON object")
    for name, item in items.items():
        where = f"items.{name}"
        if not isinstance(item, dict):
            raise _fail(path, where, "expected a JSON object")
        if not isinstance(item.get("correct"), bool):
            raise _fail(path, f"{where}.correct", "expected true or false")
        if item.get("cell") not in key["cells"]:
            raise _fail(path, f"{where}.cell", "names no cell of the key")
        verdicts = item.get("verdicts")
        if not isinstance(verdicts, dict) or any(
            v is not None and not isinstance(v, bool) for v in verdicts.values()
        ):
            raise _fail(path, f"{where}.verdicts", "expected {scorer: true/false/null}")


def check_key(key: Any, path: Path) -> dict[str, Any]:
    """`key` if it has the shape import uses; InputError naming `path` and the field otherwise."""
    if not isinstance(key, dict):
        raise _fail(path, "", "expected a JSON object")
    if not isinstance(key.get("review_id"), str):
        raise _fail(path, "review_id", "expected a string")
    if not isinstance(key.get("seed"), int) or isinstance(key.get("seed"), bool):
        raise _fail(path, "seed", "expected an integer")
    cells = key.get("cells")
    if not isinstance(cells, dict):
        raise _fail(path, "cells", "expected a JSON object")
    for name, cell in cells.items():
        ok = (
            isinstance(cell, dict)
            and isinstance(cell.get("arm"), str)
            and isinstance(cell.get("domain"), str)
            and _count(cell.get("N"))
            and _count(cell.get("auto_correct"))
            and cell["auto_correct"] <= cell["N"]
        )
        if not ok:
            raise _fail(path, f"cells.{name}", "expected {arm, domain, N, auto_correct <= N}")
    _check_items(key, path)
    return key
