"""The project's one number reader (crma_eval.numbers): every kind of writing, exact values,
abstention on ambiguous text, and the property that it reads back what was written."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crma_eval.scoring
from crma_eval import numbers
from crma_eval.numbers import canonical, find_numbers, normalise, numbers_equal, parse_number
from crma_eval.plugins.bench import gsm8k
from crma_eval.plugins.bench.gsm8k import extract_final_answer

FORMS = Path(__file__).resolve().parents[1] / "benchmarks" / "number_forms.jsonl"
ROWS = [json.loads(line) for line in FORMS.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['kind']}-{i}" for i, r in enumerate(ROWS)])
def test_extractor_reads_each_form_of_each_kind(row: dict) -> None:
    # The public examples and free-form answers of each kind; None = must abstain.
    assert extract_final_answer(row["text"]) == row["answer"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2 2/3", Fraction(8, 3)),
        ("#### 4 1/2", Fraction(9, 2)),
        ("-2 1/4", Fraction(-9, 4)),
        ("$2\\frac{1}{2}$", Fraction(5, 2)),
        ("$3 \\frac{3}{4}$", Fraction(15, 4)),
        ("\\frac12", Fraction(1, 2)),
        ("7\u00be", Fraction(31, 4)),
        (".5", Fraction(1, 2)),
        ("$.25", Fraction(1, 4)),
        ("-.75", Fraction(-3, 4)),
        ("\\dfrac{\\text{1,000}}{2}", Fraction(500)),
        ("\\frac{\\mathrm{3}}{\\mbox{4}}", Fraction(3, 4)),
        ("\\tfrac{1\\,000}{\\!8}", Fraction(125)),
        ("1,250", Fraction(1250)),
        ("1 000 000", Fraction(10**6)),
        ("1\u2009250", Fraction(1250)),
        ("1\u202f000\u202f000", Fraction(10**6)),
        ("1'000", Fraction(1000)),
        ("1\u2019000", Fraction(1000)),
        ("1.5e2", Fraction(150)),
        ("2E-3", Fraction(1, 500)),
        ("1.5 × 10^3", Fraction(1500)),
        ("1.5\\times10^{3}", Fraction(1500)),
        ("1.5·10³", Fraction(1500)),
        ("4 x 10^-2", Fraction(1, 25)),
        ("1.5 million dollars", Fraction(1_500_000)),
        ("$2 billion", Fraction(2 * 10**9)),
        ("3 thousand", Fraction(3000)),
        ("7 dollars and 50 cents", Fraction(15, 2)),
        ("$7 and 5 cents", Fraction(705, 100)),
        ("3 pounds 20 pence", Fraction(16, 5)),
        ("$7.50", Fraction(15, 2)),
        ("$1,250.50 a month", Fraction(2501, 2)),
        ("-$15", Fraction(-15)),
        ("$-15", Fraction(-15)),
        ("25%", Fraction(25)),
        ("3/4", Fraction(3, 4)),
        ("\u22124", Fraction(-4)),
        ("50 cents", Fraction(50)),  # a subunit alone keeps its number: the question's unit decides
        ("5 100ml bottles", Fraction(5)),  # a unit glued to the next group: not a digit group
        ("2 500-gram bags", Fraction(2)),
        ("3 100 dollar bills", Fraction(3)),  # a singular unit used attributively
        ("12 500 people", Fraction(12500)),
        ("5 thousandths", Fraction(5)),
    ],
)
def test_parse_number_reads_each_kind(text: str, value: Fraction) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "1,5",  # decimal comma or a list
        "1,00,000",  # lakh grouping or a typo
        "1,000,00",
        "2-1/2",  # 2½ or 2 − ½
        "3 4/2",  # mixed number with an improper fraction
        "5/0",
        "1e400",
        "7.5 dollars and 20 cents",
        "no number here",
        "",
    ],
)
def test_ambiguous_or_missing_numbers_read_as_none(text: str) -> None:
    assert parse_number(text) is None


def test_ambiguous_answer_is_not_replaced_by_an_earlier_one() -> None:
    assert extract_final_answer("The answer is 40. Wait: the answer is 2-1/2.") is None
    assert extract_final_answer("The answer is 1,5.") is None


def test_find_numbers_gives_spans_of_the_text() -> None:
    text = normalise("She paid $7.50, then 2 1/2 more and 1.5 million.")
    spans = find_numbers(text)
    assert [text[s.start : s.end] for s in spans] == ["$7.50", "2 1/2", "1.5 million"]
    assert [s.value for s in spans] == [Fraction(15, 2), Fraction(5, 2), Fraction(1_500_000)]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(1250), "1250"),
        (Fraction(7, 2), "3.5"),
        (Fraction(-1, 4), "-0.25"),
        (Fraction(0), "0"),
        (Fraction(1, 1000), "0.001"),
        (Fraction(8, 3), "8/3"),
        (Fraction(-(10**20)), "-100000000000000000000"),
    ],
)
def test_canonical_text(value: Fraction, text: str) -> None:
    assert canonical(value) == text
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("3.50", "3.5", True),
        ("1,250.00", "1250", True),
        ("#### 1,250", "$1250", True),
        ("0.75", "3/4", True),
        ("-4", "4", False),
        ("1250", "1251", False),
        ("no number", "no number", False),
        ("$3.50", "3.5", True),
        ("0.1", ".1", True),
        ("2 1/2", "2.5", True),
        ("1.5e3", "1 500", True),
        ("0.1", "0.1000001", False),
        ("1,5", "1.5", False),
        (None, "1", False),
    ],
)
def test_one_numeric_equality(a: str | None, b: str | None, equal: bool) -> None:
    assert numbers_equal(a, b) is equal


def test_one_reader_serves_the_project() -> None:
    assert crma_eval.scoring.parse_number is numbers.parse_number
    assert gsm8k.parse_number is numbers.parse_number
    assert gsm8k.answers_equal is numbers.numbers_equal
    assert crma_eval.scoring.numeric_match("cost: $.50", "0.5")
    assert not crma_eval.scoring.numeric_match("2-1/2 cups", "2.5")


# --- properties ----------------------------------------------------------------------------------

_DECIMALS = st.builds(
    lambda n, places: Fraction(n, 10**places), st.integers(-(10**9), 10**9), st.integers(0, 4)
)


def _grouped(value: Fraction, sep: str) -> str:
    """`value` with its integer digits grouped by `sep` ("1,234,567.25")."""
    text = canonical(abs(value))
    whole, _, decimals = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", sep)
    return ("-" if value < 0 else "") + grouped + (f".{decimals}" if decimals else "")


@st.composite
def written_decimal(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A decimal written with separators, currency, percent, trailing zeros or a leading dot."""
    value = draw(_DECIMALS)
    style = draw(st.sampled_from(["plain", ",", " ", "\u2009", "\u202f", "'", "$", "%", "0", "."]))
    if style == "plain":
        return canonical(value), value
    if style in {",", " ", "\u2009", "\u202f", "'"}:
        return _grouped(value, style), value
    if style == "$":
        return ("-$" if value < 0 else "$") + _grouped(abs(value), ","), value
    if style == "%":
        return canonical(value) + "%", value
    if style == "0":
        text = canonical(value)
        return text + ("0" if "." in text else ".00"), value
    small = Fraction(value.numerator % 10**4 or 1, 10**4)
    return canonical(small)[1:], small


@st.composite
def written_other(draw: st.DrawFn) -> tuple[str, Fraction]:
    """Scientific, mixed numbers, magnitude words and money in units and subunits."""
    kind = draw(st.sampled_from(["sci", "mixed", "magnitude", "money"]))
    if kind == "sci":
        mantissa = Fraction(draw(st.integers(1, 9999)), 10 ** draw(st.integers(0, 3)))
        exponent = draw(st.integers(-6, 9))
        form = draw(st.sampled_from(["{m}e{e}", "{m} × 10^{e}", "${m}\\times10^{{{e}}}$"]))
        return form.format(m=canonical(mantissa), e=exponent), mantissa * Fraction(10) ** exponent
    if kind == "mixed":
        den = draw(st.integers(2, 16))
        whole, num = draw(st.integers(1, 999)), draw(st.integers(1, den - 1))
        form = draw(
            st.sampled_from(["{w} {n}/{d}", "${w}\\frac{{{n}}}{{{d}}}$", "{w} \\dfrac{n}{d}"])
        )
        form = form.replace("\\dfrac{n}{d}", "\\dfrac{{{n}}}{{{d}}}")
        return form.format(w=whole, n=num, d=den), whole + Fraction(num, den)
    if kind == "magnitude":
        mantissa = Fraction(draw(st.integers(1, 999)), 10 ** draw(st.integers(0, 2)))
        word, scale = draw(
            st.sampled_from([("thousand", 10**3), ("million", 10**6), ("billion", 10**9)])
        )
        return f"{canonical(mantissa)} {word}", mantissa * scale
    dollars, cents = draw(st.integers(0, 10**6)), draw(st.integers(0, 99))
    unit = draw(st.sampled_from(["{d} dollars and {c} cents", "${d} and {c} cents"]))
    return unit.format(d=f"{dollars:,}", c=cents), dollars + Fraction(cents, 100)


WRITTEN = st.one_of(written_decimal(), written_other())


@given(WRITTEN)
def test_any_supported_writing_reads_back_to_its_value(written: tuple[str, Fraction]) -> None:
    text, value = written
    assert parse_number(text) == value
    assert extract_final_answer(f"The answer is {text}.") == canonical(value)
    assert extract_final_answer(f"#### {text}") == canonical(value)


FILLER = st.sampled_from(
    [
        "apples",
        "so",
        "then",
        "she",
        "has",
        "total",
        "is",
        "answer",
        "Answer:",
        "The",
        "left",
        "=",
        "+",
        "(",
        ")",
        ".",
        ",",
        "?",
        "!",
        "\n",
        "####",
        "cups",
        "each",
        "more",
        "hours",
        "We",
    ]
)


@given(st.lists(st.tuples(st.lists(FILLER, min_size=1, max_size=4), WRITTEN), max_size=5), FILLER)
def test_never_returns_a_number_not_in_the_text(
    parts: list[tuple[list[str], tuple[str, Fraction]]], last: str
) -> None:
    text = " ".join(" ".join(words) + " " + written for words, (written, _) in parts) + " " + last
    values = {value for _, (_, value) in parts}
    answer = extract_final_answer(text)
    assert answer is None or parse_number(answer) in values
    first = parse_number(text)
    assert first is None or first in values


@given(st.text(alphabet="0123456789 ,.'/-$%eE×x^{}\\frac", max_size=40))
def test_reader_never_raises_on_digit_soup(text: str) -> None:
    value = parse_number(text)
    assert value is None or isinstance(value, Fraction)
    answer = extract_final_answer(text)
    assert answer is None or parse_number(answer) is not None
