"""Every report table as CSV and LaTeX (booktabs), and drill-down lists as CSV, beside the report.

Files go to RUN_DIR/tables/<anchor>.csv|.tex and RUN_DIR/items/<anchor>.csv (staged, then
renamed). CSV cells that a spreadsheet would read as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crma_eval.store import write_text_atomic

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_UNICODE = {"−": "$-$", "±": r"$\pm$", "Δ": r"$\Delta$", "≈": r"$\approx$", "–": "--"}


def csv_safe(text: str) -> str:
    """Neutralise a CSV cell a spreadsheet would evaluate (=, +, -, @, tab, CR first): prefix "'".

    A local stand-in for crma_eval.csvsafe (OWASP "CSV injection" advice). Plain negative
    numbers such as "-1.5" are left alone: they are numbers, not formulas.
    """
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Callable) -> str:
    """The table as CSV text (header row first), cells formatted by `fmt(value, column)`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_safe(str(c)) for c in columns])
    for row in rows:
        cells = [fmt(v, columns[i] if i < len(columns) else "") for i, v in enumerate(row)]
        writer.writerow([csv_safe(c) for c in cells])
    return buf.getvalue()


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters and map the report's Unicode signs to math mode."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    for char, repl in _LATEX_UNICODE.items():
        out = out.replace(char, repl)
    return out


def latex_text(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: Callable,
    numeric: set[int],
    caption: str = "",
    label: str = "",
    total_row: bool = False,
) -> str:
    """The table as a LaTeX booktabs `tabular` in a `table` float (needs \\usepackage{booktabs})."""
    spec = "".join("r" if i in numeric else "l" for i in range(len(columns)))
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{tab:{label}}}")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(latex_escape(str(c)) for c in columns) + r" \\")
    lines.append(r"\midrule")
    for n, row in enumerate(rows):
        if total_row and n == len(rows) - 1:
            lines.append(r"\midrule")
        cells = [fmt(v, columns[i] if i < len(columns) else "") for i, v in enumerate(row)]
        lines.append(" & ".join(latex_escape(c) for c in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def write_export(run_dir: Path, folder: str, name: str, text: str) -> str:
    """Write RUN_DIR/<folder>/<name> atomically; return its path relative to RUN_DIR (a link)."""
    path = run_dir / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return f"{folder}/{name}"
