"""Metric-name globs of gate rules: `*` within one dotted segment, `**` across segments.

`qa.with_crma.*.accuracy` matches `qa.with_crma.med.accuracy` but not
`qa.with_crma.scorer.exact.accuracy`; `qa.with_crma.**.accuracy` matches both. `?` is one
character other than a dot, `[...]` a character class (fnmatch's syntax) that never matches a dot
either (as a shell class never matches the `/` between path names).

A spec with the top-level key `globs: segments` gets exactly this meaning. Older specs (without
the key) were read with `fnmatch`, whose `*` also crosses dots: there a pattern without `**` that
fnmatch matches to more names keeps that meaning (an old spec gates what it gated before) and a
deprecation note on stderr names the pattern and the `**` spelling that says the same.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable
from functools import lru_cache

# fnmatch.translate wraps its regex as `(?s:BODY)\Z`, from Python 3.14 on `(?s:BODY)\z`
_FNMATCH_WRAPPED = re.compile(r"\(\?s:(?P<body>.*)\)\\[Zz]", re.DOTALL)


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the character class opened at `start`, -1 when none (then the
    `[` is a literal character), by fnmatch's rule: a `!` and then a `]` right after `[` belong to
    the class."""
    j = start + 1
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    return pattern.find("]", j)


def _class_regex(chunk: str) -> str:
    """fnmatch's own regex for one `[...]` class (ranges, `!`, escapes, empty ranges that never
    match), so every class fnmatch accepts compiles here too; a dot never matches it."""
    wrapped = _FNMATCH_WRAPPED.fullmatch(fnmatch.translate(chunk))
    if wrapped is None:  # pragma: no cover - fnmatch changed its output format
        raise RuntimeError(f"unexpected fnmatch.translate output for {chunk!r}")
    return r"(?!\.)" + wrapped["body"]


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    parts, i = [], 0
    while i < len(pattern):
        end = _class_end(pattern, i) if pattern[i] == "[" else -1
        if pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^.]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^.]")
            i += 1
        elif end > 0:
            parts.append(_class_regex(pattern[i : end + 1]))
            i = end + 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def segment_match(name: str, pattern: str) -> bool:
    """True when `name` matches `pattern` with `*` inside one dotted segment, `**` across."""
    return _regex(pattern).fullmatch(name) is not None


def matching(pattern: str, names: Iterable[str], legacy: bool = False) -> list[str]:
    """The names a gate pattern selects, sorted; `legacy`: a spec without `globs: segments`
    (old fnmatch meaning kept with a note, above)."""
    listed = set(names)
    chosen = {n for n in listed if segment_match(n, pattern)}
    if legacy and "**" not in pattern:
        old = {n for n in listed if fnmatch.fnmatchcase(n, pattern)}
        if old - chosen:
            print(
                f"crma-eval: deprecated: gate pattern {pattern!r} matched {len(old - chosen)} "
                "metric(s) only because fnmatch lets `*`, `?` or `[...]` match a dot; kept for "
                f"old specs: {_segments_spelling(pattern, old)}, and add `globs: segments` to "
                "the spec",
                file=sys.stderr,
            )
            chosen = old
    return sorted(chosen)


def _segments_spelling(pattern: str, wanted: set[str]) -> str:
    """Advice for a legacy pattern: its `**` spelling when that selects the same metrics."""
    spelled = pattern.replace("*", "**")
    if "*" in pattern and {n for n in wanted if segment_match(n, spelled)} == wanted:
        return f"write {spelled!r} for that"
    return (
        "under `globs: segments` `?` and `[...]` never match a dot: write `**` where a dot may "
        "stand, or name the metrics"
    )
