"""`equivalence` claims ("no forgetting") under each mode, against scipy's one-sided t tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from crma_eval.claims import check_file
from crma_eval.errors import InputError

MODULAR = [-0.03, -0.10, -0.36]  # the seed paper's per-seed MODULAR drift (%)
FROZEN = [1.47, 1.66, 2.71]


def _claims(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n" + body, encoding="utf-8")
    return path


def tost_one_sample(x: list[float], margin: float) -> float:
    low = stats.ttest_1samp(x, -margin, alternative="greater").pvalue
    high = stats.ttest_1samp(x, margin, alternative="less").pvalue
    return float(max(low, high))


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("values", [MODULAR, FROZEN, [0.2, -0.1, 0.05, 0.3, -0.2]])
def test_one_sample_modes_match_scipy(tmp_path: Path, values: list[float], margin: float) -> None:
    body = "".join(
        f"  - id: {mode}\n    equivalence: {{values: {values}}}\n    margin: {margin}\n"
        f"    mode: {mode}\n"
        for mode in ("equivalence", "non_inferiority", "significant_drop")
    )
    eq, ni, sig = check_file(_claims(tmp_path, body))
    p_tost = tost_one_sample(values, margin)
    assert eq.recomputed["pvalue"] == pytest.approx(p_tost, rel=1e-9)
    assert (eq.verdict == "reproduced") is bool(p_tost < 0.05)
    p_ni = stats.ttest_1samp(values, margin, alternative="less").pvalue
    assert (ni.verdict == "reproduced") is bool(p_ni < 0.05)
    p_two = stats.ttest_1samp(values, 0.0).pvalue
    assert (sig.verdict == "reproduced") is not bool(np.mean(values) > margin and p_two < 0.05)
    low, high = stats.t.interval(0.9, len(values) - 1, np.mean(values), stats.sem(values))
    assert (eq.recomputed["low"], eq.recomputed["high"]) == pytest.approx((low, high))


def test_no_forgetting_is_equivalence_not_non_significance(tmp_path: Path) -> None:
    """MODULAR drift: equivalent within ±1 pp, not within ±0.2 pp (3 seeds cannot show it)."""
    body = (
        f"  - {{id: wide, equivalence: {{values: {MODULAR}}}, margin: 1.0}}\n"
        f"  - {{id: tight, equivalence: {{values: {MODULAR}}}, margin: 0.2}}\n"
        f"  - {{id: old, equivalence: {{values: {MODULAR}}}, margin: 0.2, "
        "mode: significant_drop}\n"
    )
    wide, tight, old = check_file(_claims(tmp_path, body))
    assert wide.verdict == "reproduced" and tight.verdict == "not_supported"
    assert old.verdict == "reproduced"  # the non-significance reading passes anyway ...
    assert old.recomputed["mde"] > 0.2  # ... though 3 seeds could not have seen 0.2 pp
    assert "MDE" in tight.detail and "not supported" in tight.detail


def test_two_sample_welch_tost_and_metric_globs(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    metrics = {f"drift.modular.seed_{s}.drift": v for s, v in zip((1, 2, 3), MODULAR, strict=True)}
    metrics |= {f"drift.frozen.seed_{s}.drift": v for s, v in zip((1, 2, 3), FROZEN, strict=True)}
    doc = {"schema": "crma-eval/results/1", "metrics": metrics, "plugins": {}, "meta": {}}
    (run / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    body = (
        "  - id: diff\n    equivalence: {a: 'drift.frozen.seed_*.drift', "
        "b: 'drift.modular.seed_*.drift'}\n    margin: 5\n"
        "  - id: missing\n    equivalence: {values: 'drift.nope.seed_*.drift'}\n    margin: 1\n"
    )
    diff, missing = check_file(_claims(tmp_path, body), run)
    upper = stats.ttest_ind(np.array(FROZEN) - 5, MODULAR, equal_var=False, alternative="less")
    lower = stats.ttest_ind(np.array(FROZEN) + 5, MODULAR, equal_var=False, alternative="greater")
    assert diff.recomputed["pvalue"] == pytest.approx(max(upper.pvalue, lower.pvalue), rel=1e-6)
    assert diff.recomputed["estimate"] == pytest.approx(np.mean(FROZEN) - np.mean(MODULAR))
    assert missing.verdict == "not_checkable" and "fewer than 2" in missing.detail
    (no_run,) = check_file(_claims(tmp_path, body.split("  - id: missing")[0]))
    assert no_run.verdict == "not_checkable" and "needs RUN_DIR" in no_run.detail


def test_printed_estimate_is_checked_too(tmp_path: Path) -> None:
    body = f"  - {{id: p, equivalence: {{values: {MODULAR}}}, margin: 1, printed: -0.17}}\n"
    (outcome,) = check_file(_claims(tmp_path, body))
    assert outcome.verdict == "differs"  # the mean is -0.163, printed as -0.16


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("  - {id: a, equivalence: {values: [1, 2]}}\n", "margin"),
        ("  - {id: a, equivalence: {values: [1, 2]}, margin: -1}\n", "must be > 0"),
        ("  - {id: a, equivalence: {a: [1, 2]}, margin: 1}\n", "both 'a' and 'b'"),
        ("  - {id: a, equivalence: {values: [1]}, margin: 1}\n", "at least 2"),
        ("  - {id: a, equivalence: {values: [1, 2]}, margin: 1, mode: x}\n", "must be one of"),
    ],
)
def test_bad_equivalence_claims(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        check_file(_claims(tmp_path, body))
