"""One reader of YAML numbers and texts for gate specs and claims files: the same bad value gives
the same one-line error naming the file, line and key in both."""

from __future__ import annotations

from pathlib import Path

import pytest

from crma_eval.claims.spec import load_claims
from crma_eval.errors import InputError
from crma_eval.gate.spec import load_spec


@pytest.mark.parametrize("bad", ["high", "true", ".inf", "1e400", ".nan"])
def test_gate_and_claims_refuse_a_bad_number_alike(tmp_path: Path, bad: str) -> None:
    gate = tmp_path / "gates.yaml"
    gate.write_text(f"gates:\n  - metric: a.b\n    min: {bad}\n", encoding="utf-8")
    claims = tmp_path / "claims.yaml"
    claims.write_text(f"claims:\n  - id: p\n    proportion: {{k: 3, n: 10}}\n"
                      f"    printed: {bad}\n    unit: percent\n", encoding="utf-8")  # fmt: skip
    errors = []
    for load, path in ((load_spec, gate), (load_claims, claims)):
        with pytest.raises(InputError) as caught:
            load(path)
        errors.append(caught.value)
    assert [e.line for e in errors] == [3, 4]
    assert [e.field for e in errors] == ["min", "printed"]
    assert errors[0].problem.split(",")[0] == errors[1].problem.split(",")[0]
    assert "finite number" in errors[0].problem


def test_gate_and_claims_refuse_an_empty_text_alike(tmp_path: Path) -> None:
    gate = tmp_path / "gates.yaml"
    gate.write_text("gates:\n  - metric: '  '\n    min: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="non-empty string") as caught:
        load_spec(gate)
    assert caught.value.line == 2
