"""Validation errors read plainly, with the next step (crma_eval.validation_words): bounds name
the bound and the value, whole numbers too large say so, an unknown config key lists the allowed
ones, an empty boolean cell asks for a boolean, and a long message never loses its closing hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from crma_eval.config import load_config
from crma_eval.errors import InputError, clip
from crma_eval.records import load_records
from tests.recordgen import loss_matrix, write

LOSS = loss_matrix("naive", 0, ["med"], [[1.0]])[0]


def _problem(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_records([path])
    return info.value.one_line()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"loss": -1.0}, "field 'loss': must be ≥ 0, got -1.0; write a value in range"),
        ({"n_tokens": 0}, "field 'n_tokens': must be ≥ 1, got 0"),
        ({"after_phase": "two"}, "expected a whole number (such as 0 or 42), got 'two'"),
    ],
)
def test_record_errors_name_the_bound_and_the_value(
    tmp_path: Path, change: dict[str, object], words: str
) -> None:
    text = _problem(write(tmp_path / "r.jsonl", [LOSS | change]))
    assert words in text and "Input should" not in text


def test_a_seed_too_large_says_so(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"kind": "qa", "arm": "a", "domain": "d", "item_id": "i", "correct": true, '
                    '"seed": 1e20}\n')  # fmt: skip
    text = _problem(path)
    assert "too large for a whole number" in text and "exceeded maximum size" not in text


def test_an_empty_boolean_cell_asks_for_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("kind,arm,domain,item_id,correct\nqa,a,d,i1,1\nqa,a,d,i2,\n")
    text = _problem(path)
    assert "r.csv:3" in text and "a boolean (0/1/true/false) is expected" in text
    assert "finite number" not in text


def test_an_unknown_config_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "crma-eval.yaml"
    path.write_text("name: x\nplugins: [qa]\nbase_modle: foo\n")
    with pytest.raises(InputError) as info:
        load_config(path)
    text = info.value.one_line()
    assert "unknown key 'base_modle'" in text and "base_model" in text.split("allowed here:")[1]
    assert "Extra inputs" not in text


def test_a_long_problem_keeps_its_closing_hint() -> None:
    hint = ". Paired sides must answer the same items (matched on domain, item_id, seed)"
    text = clip("baseline has " + "(x) " * 300 + hint)
    assert text.endswith(hint) and "more characters" in text and len(text) < 500
