"""Scoring of generated QA answers: normalised exact match, containment and numeric match.

Pure Python (no torch). Normalisation lower-cases, applies NFKC, drops punctuation and the
articles a/an/the, and collapses whitespace, keeping decimal points and thousands separators
inside numbers. A text answer is correct when the normalised reference equals the normalised
prediction or appears in it as a whole-word phrase; a number answer is correct when the first
number in the prediction equals the reference exactly, both read by crma_eval.numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from crma_eval.numbers import parse_number

ARTICLES = frozenset({"a", "an", "the"})
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+")

AnswerType = Literal["text", "number"]


@dataclass(frozen=True)
class Score:
    """Whether an answer is correct, and which rule matched (None when none did)."""

    correct: bool
    match: Literal["exact", "contains", "numeric"] | None


def normalise(text: str) -> str:
    """Lower-cased words and numbers of `text` without punctuation or articles, space-joined."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
    return " ".join(t for t in tokens if t not in ARTICLES)


def exact_match(prediction: str, reference: str) -> bool:
    """Normalised prediction equals normalised reference."""
    return normalise(prediction) == normalise(reference)


def contains(prediction: str, reference: str) -> bool:
    """The normalised reference occurs in the normalised prediction as whole words."""
    ref = normalise(reference)
    return bool(ref) and f" {ref} " in f" {normalise(prediction)} "


def numeric_match(prediction: str, reference: str) -> bool:
    """The first number of the prediction equals the reference number (exact, crma_eval.numbers)."""
    want = parse_number(reference)
    if want is None:
        raise ValueError(f"reference {reference!r} is not a number")
    got = parse_number(prediction)
    return got is not None and got == want


def score(prediction: str, reference: str, answer_type: AnswerType = "text") -> Score:
    """Score one answer: numbers by numeric match; text by exact match, then containment."""
    if answer_type == "number":
        ok = numeric_match(prediction, reference)
        return Score(ok, "numeric" if ok else None)
    if exact_match(prediction, reference):
        return Score(True, "exact")
    if contains(prediction, reference):
        return Score(True, "contains")
    return Score(False, None)
