"""Flat metric names of results.json: `<plugin>.<arm|condition>[.<domain>].<stat>`.

Also the check that user-given names (arms) are unique, shared by the config validators, and
`slug_collisions`: distinct record names that would map to one metric-name segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crma_eval.api.text import CONTROLS, visible

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")
_PUNY_UNSAFE = re.compile(r"[^A-Za-z0-9\-]")
UNICODE_PREFIX = "u--"  # marks a reversible slug of a name holding non-ASCII characters


def slug(part: object) -> str:
    """Make one name segment safe for dotted metric names (no dots, no spaces).

    ASCII names: runs of other characters become `_` (unchanged rule). Names holding non-ASCII
    characters get a reversible slug, UNICODE_PREFIX + the name's Punycode (RFC 3492) with
    any character other than letters, digits and `-` written `_XX` (hex), so distinct names
    never collide (`unslug` gives the name back).
    """
    text = str(part).strip()
    if text.isascii():
        return _UNSAFE.sub("_", text).strip("_") or "_"
    puny = text.encode("punycode").decode("ascii")
    return UNICODE_PREFIX + _PUNY_UNSAFE.sub(lambda m: f"_{ord(m.group()):02x}", puny)


def unslug(segment: str) -> str | None:
    """The name a non-ASCII slug was made from (None for ASCII slugs, which are not reversible)."""
    if not segment.startswith(UNICODE_PREFIX):
        return None
    puny = re.sub(r"_([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), segment[3:])
    return puny.encode("ascii").decode("punycode")


def metric_name(*parts: object) -> str:
    """Join segments into a dotted metric name, slugging each segment."""
    return ".".join(slug(p) for p in parts if p is not None and p != "")


def check_unique(names: list[str], what: str) -> None:
    """Raise ValueError unless `names` has no repeats (`what` names them in the message)."""
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names must be unique, got {names}")


_MD_SPECIAL = re.compile(r"[\\|*_`\[\]~]")


def markdown_cell(text: object) -> str:
    """A Markdown table cell of untrusted text: one line, controls shown (`visible`), HTML, pipes
    and emphasis/link characters escaped (GitHub's job summaries render HTML)."""
    text = " ".join(visible(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\g<0>", text)


def visible_html(html: str) -> str:
    """`visible` for HTML text: each control written &lt;U+XXXX&gt; (a whole report at once)."""
    return CONTROLS.sub(lambda m: f"&lt;U+{ord(m.group()):04X}&gt;", html)


# Record fields whose values become metric-name segments.
NAME_FIELDS = ("arm", "condition", "domain", "task", "metric", "filter", "checkpoint", "category",
               "module", "phase")  # fmt: skip


def slug_collisions(values: Iterable[object]) -> list[tuple[str, str, str]]:
    """(first name, second name, their common slug) for each distinct name (in the order
    given) whose slug an earlier distinct name already has."""
    seen: dict[str, str] = {}
    found = []
    for value in dict.fromkeys(str(v).strip() for v in values):
        segment = slug(value)
        if segment in seen and seen[segment] != value:
            found.append((seen[segment], value, segment))
        seen.setdefault(segment, value)
    return found
