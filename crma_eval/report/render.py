"""Render a run directory's results.json into one self-contained, escaped `report.html`.

Plugins describe their sections with blocks (crma_eval.blocks); the jinja2 templates in
`templates/` turn each block type into HTML with one macro. Autoescaping is on, so every string
(model outputs, domain names, metadata) is escaped; only our own matplotlib SVG is marked safe,
after a check that it references nothing outside the document.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from crma_eval.blocks import KeyValues, Section, Table
from crma_eval.claims import claims_section
from crma_eval.figures import figure_style
from crma_eval.naming import slug
from crma_eval.plugins.base import Plugin
from crma_eval.registry import plugins as installed_plugins
from crma_eval.results import load_results
from crma_eval.store import write_text_atomic

TEMPLATES = Path(__file__).with_name("templates")
DASH = "—"
RESERVED_IDS = ("overview", "contents", "definitions", "provenance")

_P_HINT = re.compile(r"(?<![a-z0-9])p(?:[-_ ]?values?|_\w+)?(?![a-z0-9])", re.IGNORECASE)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
# Elements that run code, embed documents, or (animation) can rewrite an href after our check.
_UNSAFE_TAGS = {"script", "foreignObject", "iframe", "object", "embed", "handler", "listener"}
_UNSAFE_TAGS |= {"set", "animate", "animateMotion", "animateTransform", "discard"}
_SAFE_HREFS = ("#", "data:image/png;", "data:image/jpeg;")


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
    return str(value)


def _svg_is_self_contained(root: ET.Element) -> bool:
    for elem in root.iter():
        if elem.tag.rsplit("}", 1)[-1] in _UNSAFE_TAGS:
            return False
        for name, value in elem.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or (local == "href" and not value.startswith(_SAFE_HREFS)):
                return False
            if "url(" in value.replace("url(#", ""):
                return False
        if elem.text and ("@import" in elem.text or "url(" in elem.text.replace("url(#", "")):
            return False
    return True


def safe_svg(svg: str) -> Markup:
    """Mark a matplotlib SVG safe for inlining, after checking it has no script, event handler or
    external reference (metadata with namespace URLs is dropped); otherwise a visible notice."""
    svg = _METADATA.sub("", svg.strip(), count=1)
    try:
        ok = svg.startswith("<svg") and _svg_is_self_contained(ET.fromstring(svg))
    except ET.ParseError:
        ok = False
    if not ok:
        return Markup('<p class="notice">Figure omitted: not a self-contained SVG.</p>')
    return Markup(svg)


@dataclass
class SectionView:
    """One plugin's part of the report as the template sees it."""

    html_id: str
    name: str
    title: str
    blocks: list[Any] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)
    notice: str = ""
    metrics: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> KeyValues | None:
        """The section's first KeyValues block: its headline numbers for the overview."""
        return next((b for b in self.blocks if isinstance(b, KeyValues)), None)


def _unique_id(wanted: str, used: set[str]) -> str:
    base = slug(wanted).lower()
    html_id, n = base, 1
    while html_id in used:
        n += 1
        html_id = f"{base}-{n}"
    used.add(html_id)
    return html_id


def _section_view(
    name: str, entry: dict[str, Any], plugin: Plugin | None, metrics: dict[str, Any], used: set[str]
) -> SectionView:
    own = sorted((k, v) for k, v in metrics.items() if k.split(".", 1)[0] == name)
    if plugin is None:
        notice = f"Plugin “{name}” is not installed, so its section cannot be drawn."
        return SectionView(_unique_id(name, used), name, name, notice=notice, metrics=own)
    with figure_style():
        section: Section | None = plugin.report_section(entry)
    if section is None:
        notice = "This plugin has no report content for this run."
        title = getattr(plugin, "title", name)
        return SectionView(_unique_id(name, used), name, title, notice=notice, metrics=own)
    return SectionView(
        _unique_id(section.id or name, used),
        name,
        section.title,
        list(section.blocks),
        list(section.definitions),
        metrics=own,
    )


def _extra_view(section: Section, used: set[str]) -> SectionView:
    """A section that belongs to no plugin (Claims: crma_eval.claims) as the template sees it."""
    html_id = _unique_id(section.id, used)
    return SectionView(html_id, section.id, section.title, section.blocks, section.definitions)


def _flatten(value: Any, prefix: str = "") -> list[list[Any]]:
    """Nested metadata as (dotted key, leaf) pairs; lists of scalars stay one leaf."""
    if isinstance(value, Mapping):
        pairs: list[list[Any]] = []
        for key, sub in value.items():
            pairs += _flatten(sub, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        return [[prefix, json.dumps(value, ensure_ascii=False)]]
    return [[prefix, value]]


def numeric_columns(table: Table) -> set[int]:
    """Indexes of the columns whose non-empty cells are all numbers (right-aligned)."""
    found = set()
    for i in range(len(table.columns)):
        cells = [row[i] for row in table.rows if i < len(row) and row[i] is not None]
        if cells and all(is_number(c) for c in cells):
            found.add(i)
    return found


def provenance(meta: dict[str, Any]) -> list[tuple[str, Table]]:
    """The Provenance tables: versions, methods, inputs and the rest of meta (non-empty only)."""
    inputs = [i if isinstance(i, Mapping) else {"path": i} for i in meta.get("inputs", [])]
    rest = {k: v for k, v in meta.items() if k not in ("versions", "methods", "inputs")}
    tables = [
        ("Versions", Table(["package", "version"], _flatten(meta.get("versions", {})))),
        ("Methods", Table(["setting", "method"], _flatten(meta.get("methods", {})))),
        ("Inputs", Table(["path", "sha256"], [[i.get("path"), i.get("sha256")] for i in inputs])),
        ("Run", Table(["field", "value"], _flatten(rest))),
    ]
    return [(title, table) for title, table in tables if table.rows]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    env.filters["svg"] = safe_svg
    env.filters["numeric_columns"] = numeric_columns
    env.filters["block_kind"] = lambda block: type(block).__name__.lower()
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


def render_html(
    run_name: str,
    results: dict[str, Any],
    plugins: Mapping[str, Plugin],
    extra: Sequence[Section] = (),
) -> str:
    """The report's HTML for parsed results, with sections from the given plugins, then `extra`
    sections that are not a plugin's (e.g. Claims)."""
    used = set(RESERVED_IDS)
    sections = [
        _section_view(name, entry, plugins.get(name), results["metrics"], used)
        for name, entry in results["plugins"].items()
    ]
    sections += [_extra_view(section, used) for section in extra]
    meta = results["meta"]
    template = _environment().get_template("report.html.j2")
    return template.render(
        run_name=run_name,
        meta=meta,
        versions=_flatten(meta.get("versions", {})),
        provenance=provenance(meta),
        n_metrics=len(results["metrics"]),
        sections=sections,
        definitions=definitions(results["plugins"], plugins),
    )


def render_report(run_dir: str | Path, *, plugins: Mapping[str, Plugin] | None = None) -> Path:
    """(Re)render RUN_DIR/report.html from RUN_DIR/results.json; returns the report's path.

    `plugins` defaults to the installed plugins (crma_eval.registry); the report is written to a
    temp file and renamed, so a failure leaves an existing report untouched.
    """
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    chosen = installed_plugins() if plugins is None else plugins
    claims = claims_section(run_dir)  # from `crma-eval claims CLAIMS.yaml RUN_DIR`, if run
    html = render_html(run_dir.resolve().name, results, chosen, [claims] if claims else [])
    return write_text_atomic(run_dir / "report.html", html)
