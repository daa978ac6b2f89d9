"""Record schemas of DESIGN.md, and readers/writers for record files.

Readers take JSON Lines, JSON arrays, CSV/TSV and Parquet (`crma_eval.record_formats`). Every
record carries `kind` (or the caller names it for files without one); unknown extra fields are
kept. Numbers refuse booleans (`"loss": true` is an error), booleans take true/false or 1/0, and
NaN/inf are "not finite". Validation errors name file and line (for JSON arrays and Parquet, the
1-based record). Records are returned as one pandas DataFrame per kind, with the source location
in the columns `_file` and `_line`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from typing_extensions import NotRequired, TypedDict

from crma_eval.atomicio import atomic_open
from crma_eval.errors import InputError
from crma_eval.record_formats import file_format, is_json_array, read_bytes, tabular_rows

KINDS: tuple[str, ...] = ("qa", "loss", "route", "spectral", "bench")
ROUTE_CATEGORIES: tuple[str, ...] = ("in_domain", "boundary", "ambiguous", "ood", "perturbed")
SOURCE_COLUMNS: tuple[str, str] = ("_file", "_line")

# Schemas are TypedDicts validated by pydantic-core straight from each JSON line: fast enough for
# millions of records, and they yield plain dicts that keep unknown extra fields.
_CONFIG = ConfigDict(extra="allow", coerce_numbers_to_str=True, allow_inf_nan=False)
Name = Annotated[str, Field(min_length=1)]
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _no_bool(value: Any) -> Any:
    """Refuse booleans where a number belongs (pydantic's lax mode reads true as 1)."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_not_bool", "expected a number, got a boolean")
    return value


def _bool01(value: Any) -> bool:
    """true/false, 1/0 (numbers, or text from CSV cells) as a boolean; anything else refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.strip().lower()]
    raise PydanticCustomError(
        "bool01", "expected true/false or 1/0, got {value}", {"value": repr(value)[:40]}
    )


Num = Annotated[float, BeforeValidator(_no_bool)]
Int = Annotated[int, BeforeValidator(_no_bool)]
NonNeg = Annotated[float, BeforeValidator(_no_bool), Field(ge=0)]
Bool01 = Annotated[bool, BeforeValidator(_bool01)]


class QARecord(TypedDict):
    """One answered question under one arm (e.g. with or without CRMA)."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["qa"]
    arm: Name
    domain: Name
    item_id: Name
    correct: Bool01
    question: NotRequired[str | None]
    reference: NotRequired[str | None]
    prediction: NotRequired[str | None]
    score: NotRequired[Num | None]
    routed_domain: NotRequired[str | None]
    seed: NotRequired[Int | None]
    checkpoint: NotRequired[str | None]
    rater: NotRequired[str | None]


class LossRecord(TypedDict):
    """Holdout loss on one domain after one training phase, for one condition and seed."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["loss"]
    condition: Name
    seed: Int
    after_phase: Annotated[Int, Field(ge=1)]
    domain: Name
    loss: NonNeg
    n_tokens: Annotated[Int, Field(ge=1)]
    domain_order: NotRequired[list[str] | None]
    checkpoint: NotRequired[str | None]


class RouteRecord(TypedDict):
    """One routed query of a router stress suite (gold is null for out-of-distribution)."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["route"]
    item_id: Name
    category: Literal["in_domain", "boundary", "ambiguous", "ood", "perturbed"]
    gold: str | None
    predicted: str | None
    score: Num
    margin: NotRequired[Num | None]
    scores: NotRequired[dict[str, Num] | None]
    query: NotRequired[str | None]
    checkpoint: NotRequired[str | None]


class SpectralRecord(TypedDict):
    """Spectral norm of one CRMA mixing matrix at one training step (or in a checkpoint)."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["spectral"]
    step: Annotated[Int, Field(ge=0)]
    phase: Name
    module: Name
    spectral_norm: NonNeg
    row_sum_err: NotRequired[NonNeg | None]
    col_sum_err: NotRequired[NonNeg | None]
    min_entry: NotRequired[Num | None]
    checkpoint: NotRequired[str | None]


class BenchRecord(TypedDict):
    """One per-document metric value of an lm-eval task under one arm."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["bench"]
    task: Name
    arm: Name
    doc_id: Name
    metric: Name
    value: Num
    filter: NotRequired[str | None]
    doc_hash: NotRequired[str | None]
    prediction: NotRequired[str | None]
    target: NotRequired[str | None]


SCHEMAS: dict[str, type] = {
    "qa": QARecord,
    "loss": LossRecord,
    "route": RouteRecord,
    "spectral": SpectralRecord,
    "bench": BenchRecord,
}
_RECORD: TypeAdapter[Any] = TypeAdapter(
    Annotated[
        QARecord | LossRecord | RouteRecord | SpectralRecord | BenchRecord,
        Field(discriminator="kind"),
    ]
)

# Fields that identify one record of a kind; a second record with the same key is a duplicate.
# Optional key fields (seed, checkpoint, filter) take part when present.
KEYS: dict[str, tuple[str, ...]] = {
    "qa": ("arm", "domain", "item_id", "seed", "checkpoint"),
    "loss": ("condition", "seed", "after_phase", "domain", "checkpoint"),
    "route": ("item_id", "checkpoint"),
    "spectral": ("step", "phase", "module", "checkpoint", "source"),
    "bench": ("task", "arm", "doc_id", "metric", "filter"),
}


# Required fields that may be null (a route record's gold is null for out-of-distribution queries).
NULLABLE_REQUIRED: dict[str, frozenset[str]] = {"route": frozenset({"gold", "predicted"})}


def missing(value: Any) -> bool:
    """True for absent values: None, or NaN (how data frames store an absent number)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _keep(kind: Any, key: str, absent: bool) -> bool:
    """Whether a field goes into a record: present, or required even when null (route gold)."""
    return not absent or key in NULLABLE_REQUIRED.get(kind, ())


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
        problem = f"unknown record kind {kind!r} (expected one of {', '.join(KINDS)})"
        return InputError(problem, path=path, line=line, field="kind")
    if err["type"] in {"model_type", "dict_type", "model_attributes_type"}:
        return InputError("expected a JSON object", path=path, line=line)
    field = ".".join(str(p) for p in err["loc"][1:]) or None
    if err["type"] == "finite_number":
        msg = f"not finite ({err['input']!r})"
    else:
        msg = "missing" if err["type"] == "missing" else err["msg"]
    return InputError(msg, path=path, line=line, field=field)


def validate_record(obj: Any, *, path: str | Path, line: int) -> dict[str, Any]:
    """Validate one record given as a Python object (Parquet rows, records made in code)."""
    try:
        return _RECORD.validate_python(obj)
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
    validate = _RECORD.validate_json
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
        return _RECORD.validate_python(clean)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = str(err["loc"][-1]) if err["loc"] else ""
        if err["type"] == "missing" and name in obj:
            problem = "empty: not finite or missing (NaN/null)"
            raise InputError(problem, path=path, line=line, field=name) from None
        raise _input_error(exc, path, line) from None


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
    keys = [k for k in KEYS[kind] if k in frame.columns]
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
    if kind is not None and kind not in SCHEMAS:
        raise InputError(
            f"unknown record kind {kind!r} (expected one of {', '.join(KINDS)})", field="--kind"
        )
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
