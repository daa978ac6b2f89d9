"""Metric and parameter names made safe for trackers with a restricted charset (MLflow).

MLflow accepts names of letters, digits, `_ . - / space` up to 250 characters, without `..` or
a leading `/`. Anything else becomes `_`; a name that had to change, or is too long, or collides
with another, gets an 8-hex suffix of its original's sha256, so distinct names stay distinct. The
exporters write the mapping (tracker name -> results.json name) beside the export.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MAX_NAME = 250
_BAD = re.compile(r"[^A-Za-z0-9_.\-/ ]")


def _tag(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


def path_tag(path: Path) -> str:
    """8 hex of the sha256 of `path` resolved: tells apart runs that share a name."""
    return _tag(str(Path(path).resolve()))


def safe_name(name: str, limit: int = MAX_NAME) -> str:
    """`name` within the charset and `limit` characters (unchanged when it already is)."""
    clean = _BAD.sub("_", name).lstrip("/")
    while ".." in clean:
        clean = clean.replace("..", "._")
    if clean == name and len(name) <= limit:
        return name
    suffix = f"~{_tag(name)}".replace("~", "-")
    return clean[: limit - len(suffix)] + suffix


def safe_names(names: list[str], limit: int = MAX_NAME) -> dict[str, str]:
    """{original: safe} for distinct originals, with distinct safe names (collisions suffixed)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        safe = safe_name(name, limit)
        if safe in taken:
            safe = safe_name(f"{name}\0", limit)  # changed input forces the hash suffix
            safe = safe[: limit - 9] + f"-{_tag(name)}"
        out[name] = safe
        taken.add(safe)
    return out
