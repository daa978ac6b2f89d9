"""Readers/writers of record files (JSON Lines and Parquet), validated against the record kinds
that installed plugins declare (`Plugin.record_kinds`, see crma_eval.plugins.base.RecordKind).

Every record carries `kind`; unknown extra fields are kept. Validation errors name file and line
(for Parquet, the 1-based row). Records are returned as one pandas DataFrame per kind, with the
source location in the columns `_file` and `_line`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

import pandas as pd
from pydantic import Field, TypeAdapter, ValidationError

from crma_eval.atomicio import atomic_open
from crma_eval.errors import InputError
from crma_eval.registry import record_kinds
from crma_eval.values import missing

SOURCE_COLUMNS: tuple[str, str] = ("_file", "_line")


@cache
def _adapter() -> TypeAdapter[Any]:
    """One validator for every declared record kind, dispatching on the `kind` field."""
    schemas = [k.schema for k in record_kinds().values()]
    if len(schemas) == 1:
        return TypeAdapter(schemas[0])
    return TypeAdapter(Annotated[Union[tuple(schemas)], Field(discriminator="kind")])  # noqa: UP007


def kind_names() -> tuple[str, ...]:
    """Names of every declared record kind (built-in and third-party plugins)."""
    return tuple(record_kinds())


def _keep(kind: Any, key: str, absent: bool) -> bool:
    """Whether a field goes into a record: present, or required even when null (route gold)."""
    declared = record_kinds().get(kind)
    return not absent or (declared is not None and key in declared.nullable)


def _input_error(exc: ValidationError, path: str | Path, line: int) -> InputError:
    """Turn the first pydantic error of one record into a one-line InputError."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "json_invalid":
        problem = "malformed JSON: " + err["msg"].removeprefix("Invalid JSON: ")
        return InputError(problem, path=path, line=line)
    if err["type"] == "union_tag_not_found":
        return InputError("missing", path=path, line=line, field="kind")
    if err["type"] == "union_tag_invalid":
        kind = err["input"].get("kind")
        known = ", ".join(kind_names())
        problem = f"unknown record kind {kind!r} (installed plugins declare: {known})"
        return InputError(problem, path=path, line=line, field="kind")
    if err["type"] in {"model_type", "dict_type", "model_attributes_type"}:
        return InputError("expected a JSON object", path=path, line=line)
    field = ".".join(str(p) for p in err["loc"][1:]) or None
    msg = "missing" if err["type"] == "missing" else err["msg"]
    return InputError(msg, path=path, line=line, field=field)


def validate_record(obj: Any, *, path: str | Path, line: int) -> dict[str, Any]:
    """Validate one record given as a Python object (Parquet rows, records made in code)."""
    try:
        return _adapter().validate_python(obj)
    except ValidationError as exc:
        raise _input_error(exc, path, line) from None


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a record file", path=path) from None
    if b"\x00" in raw[:8192]:
        raise InputError("binary file, expected JSON Lines text", path=path)
    return raw


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    validate = _adapter().validate_json
    seen = False
    for lineno, line in enumerate(_read_bytes(path).splitlines(), start=1):
        if not line.strip():
            continue
        seen = True
        try:
            yield lineno, validate(line)
        except ValidationError as exc:
            raise _input_error(exc, path, lineno) from None
    if not seen:
        raise InputError("empty record file", path=path)


def _iter_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"unreadable Parquet file: {exc}", path=path) from None
    if table.num_rows == 0:
        raise InputError("empty record file", path=path)
    for row, obj in enumerate(table.to_pylist(), start=1):
        kind = obj.get("kind")
        clean = {k: v for k, v in obj.items() if _keep(kind, k, v is None)}
        yield row, validate_record(clean, path=path, line=row)


def _located(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, validated record) of one JSON Lines or Parquet file (line = row for Parquet)."""
    return _iter_parquet(path) if path.suffix == ".parquet" else _iter_jsonl(path)


def iter_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield validated records of one file, each with its source in `_file` and `_line`."""
    for line, record in _located(Path(path)):
        record["_file"] = str(path)
        record["_line"] = line
        yield record


def check_duplicates(kind: str, frame: pd.DataFrame) -> None:
    """Raise InputError naming the first record whose identifying key was already seen."""
    keys = [k for k in record_kinds()[kind].key if k in frame.columns]
    key_frame = frame[keys].astype(str)
    dup = key_frame.duplicated(keep="first")
    if dup.any():
        row = frame[dup.to_numpy()].iloc[0]
        key = ", ".join(f"{k}={row[k]}" for k in keys if not pd.isna(row[k]))
        raise InputError(f"duplicate {kind} record ({key})", path=row["_file"], line=row["_line"])


def load_records(paths: Iterable[str | Path]) -> dict[str, pd.DataFrame]:
    """Read and validate record files: one DataFrame per kind present; duplicates rejected.

    Each frame has the source location of every record in the columns `_file` and `_line`.
    """
    rows: dict[str, list[dict[str, Any]]] = {}
    where: dict[str, tuple[list[str], list[int]]] = {}
    for path in paths:
        for line, record in _located(Path(path)):
            kind = record["kind"]
            rows.setdefault(kind, []).append(record)
            files, lines = where.setdefault(kind, ([], []))
            files.append(str(path))
            lines.append(line)
    frames: dict[str, pd.DataFrame] = {}
    for kind, records in rows.items():
        frame = pd.DataFrame.from_records(records)
        frame["_file"], frame["_line"] = where[kind]
        check_duplicates(kind, frame)
        frames[kind] = frame
    return frames


def record_json(record: dict[str, Any]) -> str:
    """Serialise one record as a JSON line, leaving out source columns and absent values.

    Data frames turn absent values into None or NaN; required-but-nullable fields become null.
    """
    kind = record.get("kind")
    clean = {
        k: (None if missing(v) else v)
        for k, v in record.items()
        if k not in SOURCE_COLUMNS and _keep(kind, k, missing(v))
    }
    return json.dumps(clean, ensure_ascii=False)


def write_records(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Write records to a JSON Lines file atomically (temp file + rename)."""
    with atomic_open(path) as fh:
        for record in records:
            fh.write(record_json(record) + "\n")
