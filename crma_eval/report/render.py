"""Render a run directory's results.json into one self-contained, escaped `report.html`.

Plugins describe their sections with blocks (crma_eval.api.blocks); the jinja2 templates in
`templates/` turn each block type into HTML with one macro. Autoescaping is on, so every string
(model outputs, domain names, metadata) is escaped; only our own matplotlib SVG is marked safe,
after a check that it references nothing outside the document.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from crma_eval.api.blocks import Figure, Items, KeyValues, Section, Table
from crma_eval.api.catalogue import MetricInfo, catalogue, describe_label
from crma_eval.api.plugin import Plugin
from crma_eval.api.registry import plugins as installed_plugins
from crma_eval.claims import claims_section
from crma_eval.errors import clip
from crma_eval.figures import figure_style
from crma_eval.labels import display_options
from crma_eval.naming import slug, visible, visible_html
from crma_eval.report.context import (
    SHOWN_CHECKPOINTS,
    checkpoints,
    gate_status,
    run_context,
    scrub_path,
)
from crma_eval.report.exports import csv_text, fresh_exports, latex_text, write_export
from crma_eval.report.svg import safe_svg
from crma_eval.results import load_results
from crma_eval.store import write_text_atomic

DASH = "—"
# What a plugin's section raises on a results.json entry not in the shape analyze writes
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)
RESERVED_IDS = ("overview", "contents", "definitions", "provenance")
# Most columns one HTML table shows: wider tables are drawn in parts (`column_parts`) so that
# they fit a 1400 px window without a sideways scroll (checked by tests/test_report_browser.py).
MAX_COLUMNS = 14

# Numeric text a plugin pre-formatted ("+1.47%", "0.912 ± 0.01", "45/50", "[93.0%, 99.5%]").
_NUMERIC = re.compile(r"^[\s\d.,:/%±+\-−–×eE\[\]()pp]+$")
_P_HINT = re.compile(r"(?<![a-z0-9])p(?:[-_ ]?values?|_\w+)?(?![a-z0-9])", re.IGNORECASE)


def is_number(value: Any) -> bool:
    """True for real numbers (ints, floats, numpy scalars), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _four_significant(value: float) -> str:
    if value == 0:
        return "0"
    size = abs(value)
    if size < 1e-4 or size >= 1e9:
        return f"{value:.3e}"
    text = f"{value:.4g}"
    return f"{float(text):.0f}" if "e" in text else text


def format_value(value: Any, hint: str = "") -> str:
    """Format a cell: floats to 4 significant digits, p-values (by `hint`) below 1e-3 in
    scientific notation, integers as integers, None/NaN as a dash; strings unchanged."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return DASH
        if math.isinf(number):
            return "∞" if number > 0 else "−∞"
        if 0 < number < 1e-3 and _P_HINT.search(hint):
            return f"{number:.2e}"
        return _four_significant(number)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, hint) for v in value) + "]"
    return visible(value)  # bidi/zero-width controls shown, never obeyed


@dataclass
class BlockView:
    """One block as the template sees it: its anchor, export links and numeric columns."""

    block: Any
    kind: str
    anchor: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)


@dataclass
class SectionView:
    """One plugin's part of the report as the template sees it."""

    html_id: str
    name: str
    title: str
    blocks: list[BlockView] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)
    notice: str = ""
    metrics: list[tuple[str, Any, str]] = field(default_factory=list)

    @property
    def headline(self) -> KeyValues | None:
        """The section's first KeyValues block: its headline numbers for the overview."""
        return next((v.block for v in self.blocks if isinstance(v.block, KeyValues)), None)

    @property
    def first_items(self) -> BlockView | None:
        """The section's first drill-down list (linked from its overview card)."""
        return next((v for v in self.blocks if isinstance(v.block, Items)), None)


def _unique_id(wanted: str, used: set[str]) -> str:
    base = slug(wanted).lower().strip("_-")[:60] or "block"
    html_id, n = base, 1
    while html_id in used:
        n += 1
        html_id = f"{base}-{n}"
    used.add(html_id)
    return html_id


class Exporter:
    """Gives every block its anchor and writes its files under RUN_DIR (tables/, items/)."""

    def __init__(self, run_dir: Path | None, used: set[str]) -> None:
        self.run_dir = run_dir
        self.used = used

    def view(self, section_id: str, block: Any) -> BlockView:
        """The block's view: `<section>-<caption slug>` anchor, CSV/LaTeX or CSV files written."""
        kind = type(block).__name__.lower()
        own = (
            getattr(block, "id", "") or getattr(block, "caption", "") or getattr(block, "title", "")
        )
        if not isinstance(block, (Table, Figure, Items)):
            return BlockView(block, kind)
        anchor = _unique_id(f"{section_id}-{own or kind}", self.used)
        view = BlockView(block, kind, anchor)
        if isinstance(block, Table):
            view.numeric = numeric_columns(block)
            view.links = self._table_files(block, anchor, view.numeric)
        elif isinstance(block, Items) and self.run_dir is not None:
            text = csv_text(block.columns, block.rows, format_value)
            view.links = [("CSV", write_export(self.run_dir, "items", f"{anchor}.csv", text))]
        return view

    def _table_files(self, table: Table, anchor: str, numeric: set[int]) -> list[tuple[str, str]]:
        if self.run_dir is None:
            return []
        cols, rows = table.columns, table.rows
        tex = latex_text(cols, rows, format_value, numeric, table.caption, anchor, table.total_row)
        return [
            (
                "CSV",
                write_export(
                    self.run_dir, "tables", f"{anchor}.csv", csv_text(cols, rows, format_value)
                ),
            ),
            ("LaTeX", write_export(self.run_dir, "tables", f"{anchor}.tex", tex)),
        ]


class Records:
    """RUN_DIR/records/<kind>.jsonl as DataFrames, read on first use (already validated by
    analyze, so read with pandas directly: fast enough for 10^5 items)."""

    def __init__(self, run_dir: Path | None) -> None:
        self.folder = None if run_dir is None else run_dir / "records"
        self._frames: dict[str, pd.DataFrame | None] = {}

    def get(self, kind: str) -> pd.DataFrame | None:
        """The records of one kind, or None when the run has none."""
        if kind not in self._frames:
            path = None if self.folder is None else self.folder / f"{kind}.jsonl"
            ok = path is not None and path.is_file() and path.stat().st_size > 0
            self._frames[kind] = pd.read_json(path, lines=True, dtype=False) if ok else None
        return self._frames[kind]


def _section_view(
    name: str,
    entry: dict[str, Any],
    plugin: Plugin | None,
    metrics: dict[str, Any],
    ctx: tuple[Exporter, Records, dict[str, Any], dict[str, MetricInfo]],
) -> SectionView:
    exporter, records, options, info = ctx
    mine = sorted(k for k in metrics if k.split(".", 1)[0] == name)
    own = [(k, metrics[k], describe_label(info[k])) for k in mine]
    if plugin is None:
        notice = f"Plugin “{name}” is not installed, so its section cannot be drawn."
        return SectionView(_unique_id(name, exporter.used), name, name, notice=notice, metrics=own)
    entry = {**entry, "report": options, "metric_info": {k: info[k] for k in mine}}
    try:
        with figure_style():
            section: Section | None = plugin.report_section(entry)
        items = [] if section is None else list(plugin.report_items(records.get, entry))
    except SHAPE_ERRORS as exc:  # a results.json edited by hand: this section only is lost
        notice = (
            f"This section cannot be drawn: results.json's plugins.{name} is not in the shape"
            f" this version writes ({type(exc).__name__}: {clip(str(exc), 120)}); rerun"
            " `crma-eval analyze` to rebuild it."
        )
        return SectionView(_unique_id(name, exporter.used), name, name, notice=notice, metrics=own)
    if section is None:
        notice = "This plugin has no report content for this run."
        title = getattr(plugin, "title", name)
        return SectionView(_unique_id(name, exporter.used), name, title, notice=notice, metrics=own)
    html_id = _unique_id(section.id or name, exporter.used)
    blocks = [*section.blocks, *items]
    return SectionView(
        html_id,
        name,
        section.title,
        [exporter.view(html_id, b) for b in blocks],
        list(section.definitions),
        metrics=own,
    )


def _extra_view(section: Section, exporter: Exporter) -> SectionView:
    """A section that belongs to no plugin (Claims: crma_eval.claims) as the template sees it."""
    html_id = _unique_id(section.id, exporter.used)
    blocks = [exporter.view(html_id, b) for b in section.blocks]
    return SectionView(html_id, section.id, section.title, blocks, list(section.definitions))


def _flatten(value: Any, prefix: str = "") -> list[list[Any]]:
    """Nested metadata as (dotted key, leaf) pairs; lists of scalars stay one leaf; absolute
    machine paths are reduced to their file name."""
    if isinstance(value, Mapping):
        pairs: list[list[Any]] = []
        for key, sub in value.items():
            pairs += _flatten(sub, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        return [[prefix, scrub_path(json.dumps(value, ensure_ascii=False))]]
    if isinstance(value, list):
        return [[prefix, [scrub_path(v) for v in value]]]
    return [[prefix, scrub_path(value)]]


def numeric_columns(table: Table) -> set[int]:
    """Indexes of the columns whose non-empty cells are all numbers or numeric text (right)."""
    found = set()
    for i in range(len(table.columns)):
        cells = [row[i] for row in table.rows if i < len(row) and row[i] not in (None, DASH)]
        if cells and all(is_number(c) or (isinstance(c, str) and _NUMERIC.match(c)) for c in cells):
            found.add(i)
    return found


def column_parts(columns: Sequence[Any], most: int = MAX_COLUMNS) -> list[list[int]]:
    """Column indexes of the parts a table of len(columns) columns is drawn in: all of them when
    they are at most `most`, else balanced parts of at most `most` columns that each start with
    column 0 (the row labels). E.g. 26 columns, most 14 -> [0, 1..13], [0, 14..25]."""
    n = len(columns)
    if n <= most:
        return [list(range(n))]
    rest = list(range(1, n))
    k = math.ceil(len(rest) / (most - 1))
    size, extra = divmod(len(rest), k)  # the first `extra` parts take one column more
    bounds = [i * size + min(i, extra) for i in range(k + 1)]
    return [[0, *rest[a:b]] for a, b in pairwise(bounds)]


def provenance(meta: dict[str, Any]) -> list[tuple[str, Table]]:
    """The Provenance tables: versions, methods, inputs and the rest of meta (non-empty only)."""
    inputs = [i if isinstance(i, Mapping) else {"path": i} for i in meta.get("inputs") or []]
    rest = {k: v for k, v in meta.items() if k not in ("versions", "methods", "inputs")}
    tables = [
        ("Versions", Table(["package", "version"], _flatten(meta.get("versions") or {}))),
        ("Methods", Table(["setting", "method"], _flatten(meta.get("methods") or {}))),
        (
            "Inputs",
            Table(
                ["file", "sha256"],
                [[scrub_path(i.get("path")), i.get("sha256")] for i in inputs],
            ),
        ),
        ("Run", Table(["field", "value"], _flatten(rest))),
    ]
    return [(title, table) for title, table in tables if table.rows]


def _number_like(token: str) -> bool:
    """A token kept on one line: it holds a digit and is numeric text or at most 16 characters
    (a long name with digits, e.g. "domain_07_abcdefgh…", may still wrap)."""
    return any(c.isdigit() for c in token) and (len(token) <= 16 or bool(_NUMERIC.match(token)))


def nobreak_numbers(text: str) -> Markup:
    """Escape text; keep short numeric text on one line, else wrap each space-separated token
    that is a number (`_number_like`) in a no-wrap span, so a number such as "5.76e-20" or
    "[1.2%, 3.4%]" never breaks inside itself (words and long names still wrap). "mean ± sd" may
    break before the "±" and "value [low, high]" before its interval, so wide numeric tables fit
    the page."""
    text = str(text)
    for sep in (" ± ", " ["):
        if sep in text:  # wraps there (class pm), never inside a number
            head, _, tail = text.partition(sep)
            inner = Markup(" ").join([nobreak_numbers(head), nobreak_numbers(sep[1:] + tail)])
            return Markup('<span class="pm">{}</span>').format(inner)
    tokens = text.split(" ")
    short = len(text) <= 32 and all(len(t) <= 16 or _NUMERIC.match(t) for t in tokens)
    if short and any(c.isdigit() for c in text):
        return Markup('<span class="nw">{}</span>').format(text)
    parts = [
        Markup('<span class="nw">{}</span>').format(t) if _number_like(t) else escape(t)
        for t in tokens
    ]
    return Markup(" ").join(parts)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crma_eval.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    env.filters["svg"] = safe_svg
    env.filters["numeric_columns"] = numeric_columns
    env.filters["column_parts"] = column_parts
    env.filters["tokens"] = nobreak_numbers
    env.tests["number"] = is_number
    return env


def definitions(entries: Mapping[str, Any], plugins: Mapping[str, Plugin]) -> list[tuple[str, str]]:
    """The definitions block: every reported plugin's `definitions`, in report order, once each."""
    pairs: dict[str, str] = {}
    for name in entries:
        plugin = plugins.get(name)
        for term, text in getattr(plugin, "definitions", ()):
            pairs.setdefault(term, text)
    return list(pairs.items())


def _context(results: dict[str, Any], run_dir: Path | None, options: dict[str, Any]) -> list[Any]:
    """The header's run context; empty when results.json was edited out of shape."""
    try:
        return run_context(results, run_dir or Path("."), options)
    except SHAPE_ERRORS:
        return [("note", "results.json is not in the shape this version writes")]


def render_html(
    run_name: str,
    results: dict[str, Any],
    plugins: Mapping[str, Plugin],
    run_dir: Path | None = None,
    extra: Sequence[Section] = (),
    exports_to: Path | None = None,
) -> str:
    """The report's HTML for parsed results, with sections from the given plugins, then `extra`
    sections that are not a plugin's (e.g. Claims).

    With `run_dir`, tables and drill-down lists are also written under it (tables/, items/; under
    `exports_to` instead when given, a staging folder) and linked, drill-down lists are read
    from RUN_DIR/records and the gate's outcome is shown.
    """
    exporter = Exporter(exports_to or run_dir, set(RESERVED_IDS))
    meta = results["meta"]
    options = display_options(meta)
    ctx = (exporter, Records(run_dir), options, catalogue(results))
    sections = [
        _section_view(name, entry, plugins.get(name), results["metrics"], ctx)
        for name, entry in results["plugins"].items()
    ]
    sections += [_extra_view(section, exporter) for section in extra]
    template = _environment().get_template("report.html.j2")
    return visible_html(
        template.render(
            run_name=run_name,
            meta=meta,
            context=_context(results, run_dir, options),
            checkpoints=[] if run_dir is None else checkpoints(run_dir),
            shown_checkpoints=SHOWN_CHECKPOINTS,
            gate=None if run_dir is None else gate_status(run_dir),
            provenance=provenance(meta),
            n_metrics=len(results["metrics"]),
            sections=sections,
            definitions=definitions(results["plugins"], plugins),
        )
    )  # no bidi or zero-width control in any displayed name or text


def render_report(run_dir: str | Path, *, plugins: Mapping[str, Plugin] | None = None) -> Path:
    """(Re)render RUN_DIR/report.html from RUN_DIR/results.json; returns the report's path.

    `plugins` defaults to the installed plugins (crma_eval.api.registry); the report is written to a
    temp file and renamed, so a failure leaves an existing report untouched. Tables are exported
    to RUN_DIR/tables/ (CSV, LaTeX) and complete drill-down lists to RUN_DIR/items/ (CSV).
    """
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    chosen = installed_plugins() if plugins is None else plugins
    claims = claims_section(run_dir)  # from `crma-eval claims CLAIMS.yaml RUN_DIR`, if run
    extra = [claims] if claims else []
    with fresh_exports(run_dir) as staging:  # no table or list of an earlier report survives
        html = render_html(run_dir.resolve().name, results, chosen, run_dir, extra, staging)
        return write_text_atomic(run_dir / "report.html", html)
