"""Flat metric names of results.json: `<plugin>.<arm|condition>[.<domain>].<stat>`.

Also the check that user-given names (arms) are unique, shared by the config validators.
"""

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


def check_unique(names: list[str], what: str) -> None:
    """Raise ValueError unless `names` has no repeats (`what` names them in the message)."""
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names must be unique, got {names}")
