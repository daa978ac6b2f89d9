"""`gate --baseline` pairs bench documents as the analysis does: on the content hash doc_hash
(not lm-eval's doc_id, #4084) when both runs carry it, else on doc_id; ids naming different texts
are bad input. Right values: statsmodels' exact McNemar on pairs built here by hash."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.power import TTestPower

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


# Graded bench metrics (mc2, TER, ...): the gate runs the paired t of `compare` on the same pairs.
def _graded_run(
    path: Path, metric: str, values: np.ndarray, direction: str | None, scale: str | None
) -> Path:
    task, _, name = metric.split(".")[1], None, metric.split(".")[3]
    rows = [
        {"kind": "bench", "task": task, "arm": "after", "doc_id": i, "doc_hash": f"g{i}",
         "metric": name, "value": float(v)}
        for i, v in enumerate(values)
    ]  # fmt: skip
    path.mkdir(parents=True)
    info = {metric: {"role": "estimate", "estimand": "e", "direction": direction, "scale": scale}}
    doc = {"schema": "crma-eval/results/1", "metrics": {metric: float(np.mean(values))},
           "plugins": {}, "meta": {"metric_info": info}}  # fmt: skip
    (path / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    (path / "records").mkdir()
    lines = "".join(json.dumps(r) + "\n" for r in rows)
    (path / "records" / "bench.jsonl").write_text(lines, encoding="utf-8")
    return path


def _graded_gate(
    tmp_path: Path, metric: str, base, cur, rule: str, direction=None, scale=None
) -> Any:
    name = f"{len(list(tmp_path.iterdir()))}"
    baseline = _graded_run(tmp_path / f"b{name}", metric, base, direction, scale)
    current = _graded_run(tmp_path / f"c{name}", metric, cur, direction, scale)
    spec = write_spec(tmp_path, f"gates:\n  - compare: {metric}\n    {rule}\n")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    return outcome


GRNG = np.random.default_rng(11)
MC2_BASE = GRNG.uniform(0.2, 0.9, 50)
MC2_CUR = np.clip(MC2_BASE - 0.03 + GRNG.normal(0, 0.05, 50), 0, 1)


def test_graded_significant_drop_uses_the_paired_t(tmp_path: Path) -> None:
    metric = "bench.tqa.after.mc2"
    outcome = _graded_gate(tmp_path, metric, MC2_BASE, MC2_CUR, "max_drop: 0.01")
    p = float(sps.ttest_rel(MC2_CUR, MC2_BASE).pvalue)
    assert p < 0.05 and not outcome.passed
    assert f"p = {p:.3g} on 50 pairs" in outcome.detail and "significant drop" in outcome.detail
    sd = float(np.std(MC2_CUR - MC2_BASE, ddof=1))
    effect = TTestPower().solve_power(nobs=50, alpha=0.05, power=0.8, alternative="two-sided")
    assert outcome.extra["mde"] == pytest.approx(effect * sd, rel=1e-9)


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_graded_margin_modes_use_the_t_interval_of_the_worsening(
    tmp_path: Path, direction: str
) -> None:
    metric = "bench.tqa.after.ter" if direction == "lower" else "bench.tqa.after.mc2"
    base, cur = (MC2_CUR, MC2_BASE) if direction == "lower" else (MC2_BASE, MC2_CUR)
    worse = cur - base if direction == "lower" else base - cur
    n, alpha = worse.size, 0.05
    half = sps.t.ppf(1 - alpha, n - 1) * worse.std(ddof=1) / math.sqrt(n)  # 90% two-sided
    low, high = worse.mean() - half, worse.mean() + half
    for margin in (high - 0.002, high + 0.002):
        rule = f"mode: non_inferiority\n    margin: {margin}"
        outcome = _graded_gate(tmp_path, metric, base, cur, rule, direction)
        assert outcome.extra["drop_low"] == pytest.approx(low, rel=1e-9)
        assert outcome.extra["drop_high"] == pytest.approx(high, rel=1e-9)
        assert outcome.passed == bool(high < margin)
    rule = f"mode: equivalence\n    margin: {max(abs(low), abs(high)) + 0.001}"
    assert _graded_gate(tmp_path, metric, base, cur, rule, direction).passed


def test_graded_constant_differences_use_the_exact_sign_flip(tmp_path: Path) -> None:
    base = np.linspace(0.3, 0.8, 12)
    outcome = _graded_gate(tmp_path, "bench.tqa.after.mc2", base, base - 0.25, "max_drop: 0.1")
    assert "sign-flip" in outcome.detail and f"p = {2 / 2**12:.3g}" in outcome.detail
    assert not outcome.passed


def test_log_likelihood_records_get_no_margin_interval(tmp_path: Path) -> None:
    metric = "bench.wiki.after.word_perplexity"
    base, cur = -GRNG.uniform(50, 90, 20), -GRNG.uniform(50, 90, 20)
    rule = "mode: non_inferiority\n    margin: 1"
    outcome = _graded_gate(tmp_path, metric, base, cur, rule, "lower", "perplexity")
    assert not outcome.passed and "log-likelihoods" in outcome.detail
    outcome = _graded_gate(tmp_path, metric, base, cur, "max_drop: 0", "lower", "perplexity")
    assert f"p = {float(sps.ttest_rel(cur, base).pvalue):.3g} on 20 pairs" in outcome.detail
