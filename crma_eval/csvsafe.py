"""Spreadsheet-safe CSV for files people open (review and audit sheets): written and read here only.

Neutralisation (reversible, OWASP "CSV injection" guidance): a cell whose text starts with one of
`= + - @`, TAB or CR — characters a spreadsheet may treat as the start of a formula — is written
with a single quote `'` in front, unless the whole cell is a plain signed number such as `-1.5`,
`+11.04%` or `-2e-05` (data, not a formula). So that this stays reversible, a cell that already
starts with a single quote gets one more. Reading removes exactly one leading quote from every
cell that starts with one, so `decode_cell(encode_cell(s)) == s` for every string `s`.

Every cell is quoted (csv.QUOTE_ALL), so CR and LF inside a cell never split a row; files are
UTF-8 (no byte-order mark, so plain csv readers see the header as written; one is accepted when
reading, as spreadsheets add it) and are read back without newline translation, keeping a bare CR
inside a cell exactly.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from crma_eval.atomicio import write_text_atomic
from crma_eval.errors import InputError

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# A plain signed number (optionally a percentage) is data, not a formula: left as it is, so
# exported tables load as numbers. Still reversible: such a cell never starts with a quote.
# The one dialect of every CSV this package writes (csv_text here, the report's table exports).
QUOTING: Literal[1] = csv.QUOTE_ALL
LINE_END = "\r\n"
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?")


def encode_cell(value: object) -> str:
    """The cell text written for `value` (None -> ''), with a leading quote where needed."""
    text = "" if value is None else str(value)
    if text.startswith(QUOTE) or (text.startswith(TRIGGERS) and not PLAIN_NUMBER.fullmatch(text)):
        return QUOTE + text
    return text


def decode_cell(text: str) -> str:
    """Reverse encode_cell: drop one leading single quote, if any."""
    return text[1:] if text.startswith(QUOTE) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The whole CSV document (header, rows), every cell encoded and quoted."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=QUOTING, lineterminator=LINE_END)
    writer.writerow([encode_cell(h) for h in header])
    writer.writerows([encode_cell(c) for c in row] for row in rows)
    return buf.getvalue()


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a spreadsheet-safe CSV atomically (temp file + rename)."""
    return write_text_atomic(path, csv_text(header, rows))


def read_csv(path: str | Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line, {column: decoded cell})]) of a CSV written by write_csv (or edited).

    Raises InputError (naming the file) when it cannot be read as UTF-8 CSV.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"cannot read the CSV ({exc.__class__.__name__}: {exc})", path=path
        ) from None
    if not rows:
        raise InputError("empty CSV (no header)", path=path)
    header = [decode_cell(h).strip() for h in rows[0][1]]
    named = [h for h in header if h]
    twice = sorted({h for h in named if named.count(h) > 1})
    if twice:
        problem = f"duplicate column(s) {', '.join(map(repr, twice))}: keep one of each"
        raise InputError(problem, path=path, line=rows[0][0])
    out = []
    for line, row in rows[1:]:
        if not row:  # an empty line (a row of empty cells is kept)
            continue
        if len(row) > len(header):
            raise InputError(f"{len(row)} cells, {len(header)} columns", path=path, line=line)
        cells = [decode_cell(c) for c in row] + [""] * (len(header) - len(row))
        out.append((line, dict(zip(header, cells, strict=True))))
    return header, out
