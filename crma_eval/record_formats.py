"""Record file formats people produce: JSON Lines, JSON arrays, CSV/TSV and Parquet (any of the
text ones optionally gzip-compressed, `.gz`).

The format is chosen by the file name: `.jsonl`/`.ndjson` (and any unknown suffix) are JSON Lines,
`.json` is a JSON array of objects (`df.to_json(orient="records")`; a `.json` file that does not
start with `[` is read as JSON Lines), `.csv`/`.tsv` are delimited text with a header row,
`.parquet` is Parquet. Tabular rows come back as plain Python values: CSV cells stay text (the
record schema converts numbers, so `item_id` 007 keeps its zeros), an empty cell is absent, a cell
starting with `[` or `{` is parsed as JSON (lists and objects such as `domain_order`);
Parquet timestamps become ISO 8601 text. Binary values cannot be a record field: InputError.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from crma_eval.errors import InputError

TABULAR_FORMATS = ("json", "csv", "tsv", "parquet")


def _stem_suffix(path: Path) -> tuple[str, bool]:
    name = path.name.lower()
    compressed = name.endswith(".gz")
    return (Path(name[:-3]).suffix if compressed else path.suffix.lower()), compressed


def file_format(path: Path) -> str:
    """`jsonl`, `json`, `csv`, `tsv` or `parquet`, from the file name (`.gz` looked through)."""
    suffix, compressed = _stem_suffix(path)
    if suffix == ".parquet" and not compressed:
        return "parquet"
    return {".json": "json", ".csv": "csv", ".tsv": "tsv"}.get(suffix, "jsonl")


def is_plain_jsonl(path: Path) -> bool:
    """True for uncompressed JSON Lines, whose lines can be copied byte for byte."""
    return file_format(path) == "jsonl" and not _stem_suffix(path)[1]


def read_bytes(path: Path) -> bytes:
    """The (decompressed) bytes of a text record file; unreadable or binary files: InputError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a record file", path=path) from None
    if _stem_suffix(path)[1]:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"not a readable gzip file ({exc})", path=path) from None
    if b"\x00" in raw[:8192]:
        raise InputError("binary file, expected text records (JSON Lines, JSON, CSV)", path=path)
    return raw


def _text(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None


def plain(value: Any, path: Path, line: int, field: str) -> Any:
    """A JSON-ready Python value: timestamps as ISO text, decimals as float; binary refused."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise InputError(
            "binary values cannot be a record field; drop the column", path=path, line=line,
            field=field,
        )  # fmt: skip
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v, path, line, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, path, line, field) for v in value]
    return value


def _cell(text: str | None) -> Any:
    if text is None or text == "":
        return None
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _delimited(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    handle = io.StringIO(_text(read_bytes(path), path), newline="")
    reader = csv.DictReader(handle, delimiter=delimiter)
    try:
        if not reader.fieldnames:
            raise InputError("empty record file (no header row)", path=path)
        for row in reader:
            extra = row.pop(None, None)
            if extra:
                raise InputError(
                    f"{len(extra)} more cell(s) than header columns", path=path,
                    line=reader.line_num,
                )  # fmt: skip
            yield reader.line_num, {k: _cell(v) for k, v in row.items() if k}
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from None


def is_json_array(raw: bytes) -> bool:
    """True when JSON text starts with `[` (a `.json` file otherwise holds JSON Lines)."""
    return raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["


def _json_array(path: Path, raw: bytes) -> Iterator[tuple[int, Any]]:
    try:
        items = json.loads(_text(raw, path))
    except ValueError as exc:
        raise InputError(f"malformed JSON: {exc}", path=path) from None
    if not isinstance(items, list):
        raise InputError(
            "expected a JSON array of records (or one JSON object per line)", path=path
        )
    yield from enumerate(items, start=1)


def _parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"unreadable Parquet file: {exc}", path=path) from None
    yield from enumerate(table.to_pylist(), start=1)


def tabular_rows(path: Path, fmt: str, raw: bytes | None = None) -> Iterator[tuple[int, Any]]:
    """(location, row) of a JSON array (`raw`: its bytes), CSV/TSV or Parquet file, values plain.

    The location is the file line for CSV/TSV and the 1-based record number otherwise.
    """
    if fmt == "parquet":
        rows: Iterator[tuple[int, Any]] = _parquet(path)
    elif fmt == "json":
        rows = _json_array(path, read_bytes(path) if raw is None else raw)
    else:
        rows = _delimited(path, "\t" if fmt == "tsv" else ",")
    seen = False
    for line, row in rows:
        seen = True
        if isinstance(row, dict):
            row = {str(k): plain(v, path, line, str(k)) for k, v in row.items()}
        yield line, row
    if not seen:
        raise InputError("empty record file", path=path)
