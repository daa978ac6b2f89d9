"""`gate --baseline` pairs bench documents as the analysis does: on the content hash doc_hash
(not lm-eval's doc_id, #4084) when both runs carry it, else on doc_id; ids naming different texts
are bad input. Right values: statsmodels' exact McNemar on pairs built here by hash."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from crma_eval.errors import InputError
from crma_eval.gate import run_gate
from tests.gate.test_gate import write_run, write_spec

METRIC = "bench.arc.after.acc"
RNG = np.random.default_rng(7)
BASE = np.array([1, 0] * 30)
CURRENT = np.where(np.arange(60) < 20, 0, BASE)  # 10 documents right only in the baseline


def _records(values: Any, shift: int = 0, hashes: bool = True, tag: str = "h") -> list[dict]:
    rows = []
    for i, v in enumerate(values):
        row = {"kind": "bench", "task": "arc", "arm": "after", "doc_id": i + shift,
               "metric": "acc", "value": int(v)}  # fmt: skip
        if hashes:
            row["doc_hash"] = f"{tag}{i}"
        rows.append(row)
    return rows


def _gate(tmp_path: Path, base: list[dict], cur: list[dict], name: str) -> Any:
    metrics = {METRIC: float(np.mean([r["value"] for r in base]))}
    baseline = write_run(tmp_path / f"{name}_base", metrics, base)
    metrics = {METRIC: float(np.mean([r["value"] for r in cur]))}
    current = write_run(tmp_path / f"{name}_cur", metrics, cur)
    spec = write_spec(tmp_path, f"gates:\n  - compare: {METRIC}\n    max_drop: 0\n")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    return outcome


def _expected_p(x: np.ndarray, y: np.ndarray) -> float:
    b, c = int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1)))
    return float(sm_mcnemar([[0, b], [c, 0]], exact=True).pvalue)


def test_renumbered_documents_pair_on_their_hash(tmp_path: Path) -> None:
    order = RNG.permutation(60)  # the current run lists the documents in another order too
    cur = [_records(CURRENT, shift=7)[i] for i in order]
    outcome = _gate(tmp_path, _records(BASE), cur, "shift")
    p = _expected_p(BASE, CURRENT)
    assert p != _expected_p(BASE[7:], CURRENT[:-7])  # pairing by id would differ
    assert f"p = {p:.3g} on 60 pairs" in outcome.detail


def test_without_hashes_documents_pair_on_doc_id(tmp_path: Path) -> None:
    for name, base_hashes in (("none", False), ("one", True)):  # both or one side lacks them
        cur = _records(CURRENT, hashes=False)
        outcome = _gate(tmp_path, _records(BASE, hashes=base_hashes), cur, name)
        assert f"p = {_expected_p(BASE, CURRENT):.3g} on 60 pairs" in outcome.detail


@pytest.mark.parametrize("changed", [[0], list(range(60))])
def test_same_id_with_another_hash_is_bad_input_naming_the_document(
    tmp_path: Path, changed: list[int]
) -> None:
    cur = _records(CURRENT)
    for i in changed:
        cur[i]["doc_hash"] = f"other{i}"
    with pytest.raises(InputError) as err:
        _gate(tmp_path, _records(BASE), cur, f"chg{len(changed)}")
    assert err.value.field == "doc_hash" and err.value.line == 1
    assert re.search(r"document '?0'?: doc_hash 'h0'", str(err.value))
    assert "'other0'" in str(err.value)
