"""Untrusted text made visible: the one rule every message, table and report uses for names and
problems read from files (a NUL, an ESC colour sequence or a bidi override must be seen, never
obeyed)."""

from __future__ import annotations

import re

# C0/C1 control characters but tab and line breaks (a NUL or an ESC colour sequence in a name would
# reach terminals and Markdown raw), Unicode's line/paragraph separators, bidi overrides/isolates
# and zero-width characters
CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\u061c\u180e]"
)


def visible(name: object) -> str:
    """A name as displayed: control characters (but tab and line breaks), bidi overrides/isolates
    and zero-width characters shown as <U+XXXX> (they could make one name look like another or
    drive a terminal), the rest unchanged."""
    return CONTROLS.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(name))
