"""Inline SVG for the report: a safety check, per-figure id prefixes and an accessible name.

Matplotlib writes the same element ids (glyph and clip-path ids, salted by `svg.hashsalt`) into
every figure, so several inline SVGs in one page would repeat ids (invalid HTML, and `url(#…)`
references may resolve to another figure's element). Every id and reference is prefixed with the
figure's anchor before inlining.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from markupsafe import Markup, escape

_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
# Elements that run code, embed documents, or (animation) can rewrite an href after our check.
_UNSAFE_TAGS = {"script", "foreignObject", "iframe", "object", "embed", "handler", "listener"}
_UNSAFE_TAGS |= {"set", "animate", "animateMotion", "animateTransform", "discard"}
_SAFE_HREFS = ("#", "data:image/png;", "data:image/jpeg;")
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


def _is_self_contained(root: ET.Element) -> bool:
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


def prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every `id="X"`, `url(#X)` and `href="#X"` with `prefix-` (ids unique per page)."""
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def safe_svg(svg: str, prefix: str = "", label: str = "") -> Markup:
    """Mark a matplotlib SVG safe for inlining, after checking it has no script, event handler or
    external reference (metadata with namespace URLs is dropped); otherwise a visible notice.

    `prefix` namespaces its ids (see module docstring); `label` becomes the accessible name
    (role="img", aria-label and a <title>), so screen readers announce what the figure shows.
    """
    svg = _METADATA.sub("", svg.strip(), count=1)
    try:
        ok = svg.startswith("<svg") and _is_self_contained(ET.fromstring(svg))
    except ET.ParseError:
        ok = False
    if not ok:
        return Markup('<p class="notice">Figure omitted: not a self-contained SVG.</p>')
    if prefix:
        svg = prefix_ids(svg, prefix)
    if label:
        name = str(escape(label))
        head, rest = svg.split(">", 1)
        svg = f'{head} role="img" aria-label="{name}"><title>{name}</title>{rest}'
    return Markup(svg)
