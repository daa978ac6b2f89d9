"""QA answer scoring: normalisation, exact match, containment, numeric match."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crma_eval.scoring import contains, exact_match, normalise, numeric_match, parse_number, score


def test_scoring_does_not_import_torch() -> None:
    code = "import sys, crma_eval.scoring; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Answer!", "answer"),
        ("An apple, a day.", "apple day"),
        ("3.5 mg", "3.5 mg"),
        ("1,000 dollars", "1,000 dollars"),
        ("ＡＢＣ", "abc"),
        ("theory", "theory"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_exact_and_containment() -> None:
    assert exact_match("  The Aspirin. ", "aspirin")
    assert not exact_match("aspirin daily", "aspirin")
    assert contains("the doctor gives aspirin daily", "Aspirin")
    assert contains("it is the high court.", "High Court")
    assert not contains("concatenate", "cat")
    assert not contains("anything", "")
    assert not contains("court high", "high court")


@pytest.mark.parametrize(
    ("prediction", "reference", "ok"),
    [
        ("42", "42", True),
        ("42.0 apples", "42", True),
        ("$1,000", "1000", True),
        ("-3.5 degrees", "-3.5", True),
        ("it is 7, not 8", "8", False),
        ("no number", "3", False),
        ("0.1", ".1", True),
    ],
)
def test_numeric_match(prediction: str, reference: str, ok: bool) -> None:
    assert numeric_match(prediction, reference) is ok


def test_parse_number() -> None:
    assert parse_number("about 1,234.5 units") == 1234.5
    assert parse_number("none") is None


def test_score_rules() -> None:
    assert score("Aspirin", "aspirin") == score("aspirin", "Aspirin")
    assert score("Aspirin.", "aspirin").match == "exact"
    assert score("give aspirin now", "aspirin").match == "contains"
    assert score("ibuprofen", "aspirin").correct is False
    assert score("about 12 units", "12", "number").match == "numeric"
    assert score("12 units", "13", "number").correct is False
    with pytest.raises(ValueError, match="not a number"):
        score("12", "twelve", "number")


@given(st.text(min_size=1, max_size=40))
def test_normalise_is_idempotent(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20))
def test_answer_matches_itself(text: str) -> None:
    assert score(text, text).correct or normalise(text) == ""
