"""Readers of evaluation data files (holdout text, QA sets, router suites) with file:line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crma_eval.errors import InputError
from crma_eval.safeload import json_loads


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable ({exc.__class__.__name__})", path=path) from None


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    """(line, object) of each non-blank JSON Lines row; every row must have `required` keys."""
    rows = []
    for line, raw in enumerate(_read_text(path).splitlines(), start=1):
        if not raw.strip():
            continue
        obj = json_loads(raw, path=path, line=line)  # bounded: depth, integer size, no NaN
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=path, line=line)
        for key in required:
            if key not in obj:
                raise InputError("missing", path=path, line=line, field=key)
        rows.append((line, obj))
    if not rows:
        raise InputError("empty data file", path=path)
    return rows


def read_items(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """JSONL items with a unique `item_id` (made a string) and non-empty text in `required`."""
    items, seen = [], set()
    for line, obj in read_jsonl(path, ("item_id", *required)):
        item_id = obj["item_id"]
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or item_id == "":
            raise InputError(
                "must be a non-empty string or integer", path=path, line=line, field="item_id"
            )
        item_id = str(item_id)
        if item_id in seen:
            raise InputError(
                f"duplicate item_id {item_id!r}", path=path, line=line, field="item_id"
            )
        seen.add(item_id)
        for key in required:
            value = obj[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                obj[key] = str(value)
            elif not isinstance(value, str) or not value.strip():
                raise InputError("must be non-empty text", path=path, line=line, field=key)
        items.append({**obj, "item_id": item_id, "_line": line})
    return items


def read_holdout(path: Path) -> list[str]:
    """Holdout texts: `.jsonl` rows with a `text` field, otherwise one text per non-blank line."""
    path = Path(path)
    if path.suffix == ".jsonl":
        texts = []
        for line, obj in read_jsonl(path, ("text",)):
            if not isinstance(obj["text"], str):
                raise InputError("must be text", path=path, line=line, field="text")
            texts.append(obj["text"])
        return texts
    texts = [t for t in _read_text(path).splitlines() if t.strip()]
    if not texts:
        raise InputError("empty holdout file", path=path)
    return texts
