"""Flat metric names of results.json: `<plugin>.<arm|condition>[.<domain>].<stat>`."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")


def slug(part: object) -> str:
    """Make one name segment safe for dotted metric names (no dots, no spaces)."""
    text = _UNSAFE.sub("_", str(part).strip()).strip("_")
    return text or "_"


def metric_name(*parts: object) -> str:
    """Join segments into a dotted metric name, slugging each segment."""
    return ".".join(slug(p) for p in parts if p is not None and p != "")
