"""Record schemas of DESIGN.md, and readers/writers for JSON Lines and Parquet.

Every record carries `kind`; unknown extra fields are kept. Validation errors name file and line
(for Parquet, the 1-based row). Records are returned as one pandas DataFrame per kind, with the
source location in the columns `_file` and `_line`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import ConfigDict, Field, StrictBool, TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict

from crma_eval.atomicio import atomic_open
from crma_eval.errors import InputError

KINDS: tuple[str, ...] = ("qa", "loss", "route", "spectral", "bench")
ROUTE_CATEGORIES: tuple[str, ...] = ("in_domain", "boundary", "ambiguous", "ood", "perturbed")
SOURCE_COLUMNS: tuple[str, str] = ("_file", "_line")

# Schemas are TypedDicts validated by pydantic-core straight from each JSON line: fast enough for
# millions of records, and they yield plain dicts that keep unknown extra fields.
_CONFIG = ConfigDict(extra="allow", coerce_numbers_to_str=True, allow_inf_nan=False)
Name = Annotated[str, Field(min_length=1)]
NonNeg = Annotated[float, Field(ge=0)]


class QARecord(TypedDict):
    """One answered question under one arm (e.g. with or without CRMA)."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["qa"]
    arm: Name
    domain: Name
    item_id: Name
    correct: StrictBool
    question: NotRequired[str | None]
    reference: NotRequired[str | None]
    prediction: NotRequired[str | None]
    score: NotRequired[float | None]
    routed_domain: NotRequired[str | None]
    seed: NotRequired[int | None]
    checkpoint: NotRequired[str | None]
    rater: NotRequired[str | None]


class LossRecord(TypedDict):
    """Holdout loss on one domain after one training phase, for one condition and seed."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["loss"]
    condition: Name
    seed: int
    after_phase: Annotated[int, Field(ge=1)]
    domain: Name
    loss: NonNeg
    n_tokens: Annotated[int, Field(ge=1)]
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
    score: float
    margin: NotRequired[float | None]
    scores: NotRequired[dict[str, float] | None]
    confidence: NotRequired[Annotated[float, Field(ge=0, le=1)] | None]
    acceptable: NotRequired[list[str] | None]
    query: NotRequired[str | None]
    checkpoint: NotRequired[str | None]


class SpectralRecord(TypedDict):
    """Spectral norm of one CRMA mixing matrix at one training step (or in a checkpoint)."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["spectral"]
    step: Annotated[int, Field(ge=0)]
    phase: Name
    module: Name
    spectral_norm: NonNeg
    row_sum_err: NotRequired[NonNeg | None]
    col_sum_err: NotRequired[NonNeg | None]
    min_entry: NotRequired[float | None]
    checkpoint: NotRequired[str | None]


class BenchRecord(TypedDict):
    """One per-document metric value of an lm-eval task under one arm."""

    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    kind: Literal["bench"]
    task: Name
    arm: Name
    doc_id: Name
    metric: Name
    value: float
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
_RECORD = TypeAdapter(
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
        return InputError("missing", path=path, line=line, field="kind")
    if err["type"] == "union_tag_invalid":
        kind = err["input"].get("kind")
        problem = f"unknown record kind {kind!r} (expected one of {', '.join(KINDS)})"
        return InputError(problem, path=path, line=line, field="kind")
    if err["type"] in {"model_type", "dict_type", "model_attributes_type"}:
        return InputError("expected a JSON object", path=path, line=line)
    field = ".".join(str(p) for p in err["loc"][1:]) or None
    msg = "missing" if err["type"] == "missing" else err["msg"]
    return InputError(msg, path=path, line=line, field=field)


def validate_record(obj: Any, *, path: str | Path, line: int) -> dict[str, Any]:
    """Validate one record given as a Python object (Parquet rows, records made in code)."""
    try:
        return _RECORD.validate_python(obj)
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
    validate = _RECORD.validate_json
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
    keys = [k for k in KEYS[kind] if k in frame.columns]
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
