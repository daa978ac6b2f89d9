"""Building blocks of report sections: plugins describe content, the renderer writes the HTML.

Plugins never write HTML: every string in a block is escaped by the (autoescaping) templates, so
model outputs and dataset text are safe. Figures are SVG produced by our own matplotlib code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass
class Table:
    """A table; cells are plain values (numbers are formatted by the renderer unless strings)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    id: str = ""  # permalink anchor (and export file name); derived from the caption when empty
    total_row: bool = False  # the last row is a summary (mean ± sd, totals): drawn set apart


@dataclass
class Figure:
    """An inline SVG figure rendered by matplotlib (see crma_eval.figures)."""

    svg: str
    caption: str = ""
    alt: str = ""  # accessible name (what the figure shows); the caption when empty
    id: str = ""  # permalink anchor; derived from the caption when empty


@dataclass
class KeyValues:
    """A short list of labelled values (e.g. the headline numbers of a section)."""

    items: list[tuple[str, Any]]
    caption: str = ""


@dataclass
class Items:
    """A drill-down list of items (e.g. the discordant pairs of two arms).

    The page shows the first `cap` rows in a collapsed, searchable list; the renderer writes every
    row as RUN_DIR/items/<id>.csv and links it. Cells are plain values, escaped on output.
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    cap: int = 50
    note: str = ""
    id: str = ""


Block = Paragraph | Table | Figure | KeyValues | Items


@dataclass
class Section:
    """One plugin's part of the report."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)
