"""Readers/writers of record files, validated against the record kinds that installed plugins
declare (`Plugin.record_kinds`, see crma_eval.api.plugin.RecordKind; docs/records.md).

Readers take JSON Lines, JSON arrays, CSV/TSV and Parquet (`crma_eval.record_formats`). Every
record carries `kind` (or the caller names it for files without one); unknown extra fields are
kept. Numbers refuse booleans (`"loss": true` is an error), booleans take true/false or 1/0, and
NaN/inf are "not finite". Validation errors name file and line (for JSON arrays and Parquet, the
1-based record). Records are returned as one pandas DataFrame per kind, with the source location
in the columns `_file` and `_line`.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

import pandas as pd
from pydantic import Field, TypeAdapter, ValidationError

from crma_eval.api.registry import record_kinds
from crma_eval.atomicio import atomic_open
from crma_eval.errors import InputError
from crma_eval.record_formats import file_format, is_json_array, read_bytes, tabular_rows
from crma_eval.validation_words import plain
from crma_eval.values import missing

SOURCE_COLUMNS: tuple[str, str] = ("_file", "_line")


@cache
def _adapter() -> TypeAdapter[Any]:
    """One validator for every declared record kind, dispatching on the `kind` field."""
    schemas = [k.schema for k in record_kinds().values()]
    if len(schemas) == 1:
        return TypeAdapter(schemas[0])
    union: Any = Annotated[Union[tuple(schemas)], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(union)


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
        return InputError(
            "missing (add a kind column, or name the kind with --kind)",
            path=path, line=line, field="kind",
        )  # fmt: skip
    if err["type"] == "union_tag_invalid":
        kind = err["input"].get("kind")
        known = ", ".join(kind_names())
        problem = f"unknown record kind {kind!r} (installed plugins declare: {known})"
        return InputError(problem, path=path, line=line, field="kind")
    if err["type"] in {"model_type", "dict_type", "model_attributes_type"}:
        return InputError("expected a JSON object", path=path, line=line)
    field = ".".join(str(p) for p in err["loc"][1:]) or None
    if err["type"] == "finite_number":
        msg = f"not finite ({err['input']!r}); write a finite number or leave the record out"
    else:
        msg = "missing" if err["type"] == "missing" else plain(err)
    return InputError(msg, path=path, line=line, field=field)


def validate_record(obj: Any, *, path: str | Path, line: int) -> dict[str, Any]:
    """Validate one record given as a Python object (Parquet rows, records made in code)."""
    try:
        return _adapter().validate_python(obj)
    except ValidationError as exc:
        raise _input_error(exc, path, line) from None


def _with_kind(obj: Any, kind: str | None) -> Any:
    """The record with `kind` filled in when it has none and the caller named one."""
    if kind is not None and isinstance(obj, dict) and missing(obj.get("kind")):
        return {**obj, "kind": kind}
    return obj


def _kind_absent(exc: ValidationError) -> bool:
    """Whether a record failed only for having no kind (absent or null)."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "union_tag_not_found":
        return True
    return err["type"] == "union_tag_invalid" and err["input"].get("kind") is None


def _iter_jsonl(path: Path, raw: bytes, kind: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    validate = _adapter().validate_json
    seen = False
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        seen = True
        try:
            yield lineno, validate(line)
        except ValidationError as exc:
            if kind is None or not _kind_absent(exc):
                raise _input_error(exc, path, lineno) from None
            obj = json.loads(line)  # valid JSON without a kind: take the named one
            yield lineno, validate_record(_with_kind(obj, kind), path=path, line=lineno)
    if not seen:
        raise InputError("empty record file", path=path)


def _tabular_record(obj: Any, kind: str | None, path: Path, line: int) -> dict[str, Any]:
    """Validate one table row: empty cells (None, NaN) are absent; an empty required number is
    reported as not finite (Parquet and pandas store NaN as null)."""
    obj = _with_kind(obj, kind)
    if not isinstance(obj, dict):
        return validate_record(obj, path=path, line=line)
    row_kind = obj.get("kind")
    clean = {k: v for k, v in obj.items() if _keep(row_kind, k, missing(v))}
    try:
        return _adapter().validate_python(clean)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = str(err["loc"][-1]) if err["loc"] else ""
        if err["type"] == "missing" and name in obj:
            expected = _expected(row_kind, name)
            problem = (
                "empty: not finite or missing (NaN/null); write a finite number or leave the "
                "record out"
                if expected == "a finite number"
                else f"empty: {expected} is expected; fill it in or leave the record out"
            )
            raise InputError(problem, path=path, line=line, field=name) from None
        raise _input_error(exc, path, line) from None


def _expected(kind: Any, name: str) -> str:
    """What a record kind's field holds, for an empty cell: 'a boolean (0/1/true/false)',
    'text' or 'a finite number' (the default)."""
    declared = record_kinds().get(kind)
    try:
        hints = typing.get_type_hints(declared.schema) if declared is not None else {}
    except (NameError, TypeError):  # a third-party schema with unresolvable hints
        hints = {}
    text = str(hints.get(name, ""))
    if "bool" in text.lower():
        return "a boolean (0/1/true/false)"
    if "str" in text and "float" not in text and "int" not in text:
        return "text"
    return "a finite number"


def _located(path: Path, kind: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(location, validated record) of one record file (location = file line, or the 1-based
    record number for JSON arrays and Parquet)."""
    fmt = file_format(path)
    raw = None if fmt in ("parquet", "csv", "tsv") else read_bytes(path)
    if raw is not None and not (fmt == "json" and is_json_array(raw)):
        yield from _iter_jsonl(path, raw, kind)
        return
    for line, obj in tabular_rows(path, fmt, raw):
        yield line, _tabular_record(obj, kind, path, line)


def iter_records(path: str | Path, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield validated records of one file, each with its source in `_file` and `_line`.

    `kind` is given to records that have none (files without a kind column).
    """
    for line, record in _located(Path(path), kind):
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


def load_records(paths: Iterable[str | Path], kind: str | None = None) -> dict[str, pd.DataFrame]:
    """Read and validate record files: one DataFrame per kind present; duplicates rejected.

    Each frame has the source location of every record in the columns `_file` and `_line`.
    `kind` is given to records without one; an unknown kind is an InputError.
    """
    if kind is not None and kind not in record_kinds():
        known = ", ".join(kind_names())
        raise InputError(f"unknown record kind {kind!r} (installed plugins declare: {known})",
                         field="--kind")  # fmt: skip
    rows: dict[str, list[dict[str, Any]]] = {}
    where: dict[str, tuple[list[str], list[int]]] = {}
    for path in paths:
        for line, record in _located(Path(path), kind):
            rows.setdefault(record["kind"], []).append(record)
            files, lines = where.setdefault(record["kind"], ([], []))
            files.append(str(path))
            lines.append(line)
    frames: dict[str, pd.DataFrame] = {}
    for name, records in rows.items():
        frame = pd.DataFrame.from_records(records)
        frame["_file"], frame["_line"] = where[name]
        check_duplicates(name, frame)
        frames[name] = frame
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
