"""Words for the discordant counts b and c of a paired test (gate --baseline, compare).

b counts what scores higher in the first run (baseline / A) and c what scores higher in the
second (current / B): answers 1 in one run only (McNemar), items with a higher per-item total
(item-level sign-flip test), documents with a higher mean (graded values), as
crma_eval.evidence computes them. Whether "higher" is better or worse is the metric catalogue's
direction (a lower-is-better 0/1 metric, where 1 is an error, has its b in the baseline's
errors); unknown directions say "higher".
"""

from __future__ import annotations

from crma_eval.evidence import GRADED_CONSTANT, GRADED_TEST, ITEM_TEST, TEST


def counted(method: str) -> str:
    """What b and c count for a test method: 'answers', 'items' or 'documents' ('pairs' else)."""
    if method.startswith(TEST):
        return "answers"
    if method.startswith(ITEM_TEST):
        return "items"
    if method in (GRADED_TEST, GRADED_CONSTANT):
        return "documents"
    return "pairs"


def higher_word(direction: str | None) -> str:
    """'better' (higher is better), 'worse' (lower is better), 'higher' (direction unknown)."""
    return {"higher": "better", "lower": "worse"}.get(direction or "", "higher")


def bc_text(b: int, c: int, method: str, direction: str | None, sides: tuple[str, str]) -> str:
    """E.g. 'b = 3 answers worse in baseline only, c = 10 answers worse in current only'."""
    unit, word = counted(method), higher_word(direction)
    only = " only" if unit == "answers" else ""
    first, second = sides
    return f"b = {b} {unit} {word} in {first}{only}, c = {c} {unit} {word} in {second}{only}"


def bc_cell(count: int, method: str, direction: str | None) -> str:
    """One table cell: '3 answers better' (what the count counts, read by the direction)."""
    return f"{count} {counted(method)} {higher_word(direction)}"
