"""The report's table exports (tables/*.csv, items/*.csv) are the same spreadsheet-safe CSV as
crma_eval.csvsafe writes: every cell quoted, formula-like cells neutralised, read back exactly."""

from __future__ import annotations

from pathlib import Path

from crma_eval.csvsafe import csv_text as safe_text
from crma_eval.csvsafe import read_csv
from crma_eval.report.exports import csv_text

COLUMNS = ["metric", "=note", "value"]
ROWS = [
    ["qa.a.accuracy", '=HYPERLINK("x")', "0.5"],
    ["line\nbreak", "+1 then text", "-1.5"],
    ["plain", "@SUM(A1)", "'quoted"],
]


def test_table_exports_match_the_csvsafe_writer(tmp_path: Path) -> None:
    text = csv_text(COLUMNS, ROWS, lambda v, _: str(v))
    assert text == safe_text(COLUMNS, ROWS)
    first = text.split("\r\n")[0]
    assert first == '"metric","\'=note","value"'  # every cell quoted, the formula neutralised
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    columns, rows = read_csv(path)
    assert columns == COLUMNS
    assert [list(r.values()) for _, r in rows] == ROWS


def test_numbers_from_fmt_are_quoted_too() -> None:
    text = csv_text(["x", "y"], [[1.25, None]], lambda v, _: "" if v is None else f"{v:g}")
    assert text.splitlines()[1] == '"1.25",""'
