"""Claims whose recomputed numbers are undefined (NaN, infinite) and method_mismatch wording."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from crma_eval.claims.check import check_claim
from crma_eval.claims.spec import load_claims
from crma_eval.cli import cli


def _claims(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n" + text, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", [1.0, 2.5, -7.0])
def test_welch_on_constant_samples_is_not_checkable_not_a_crash(
    tmp_path: Path, value: float
) -> None:
    a, b = [value] * 3, [value + 1] * 3
    assert not math.isfinite(stats.ttest_ind(a, b, equal_var=False).statistic)
    path = _claims(
        tmp_path,
        f"  - id: w\n    welch: {{a: {a}, b: {b}}}\n"
        "    printed: {statistic: 13.6, df: 2, pvalue: 0.005}\n",
    )
    result = CliRunner().invoke(cli, ["claims", str(path), "--json"])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.output)
    assert row["verdict"] == "not_checkable"
    assert "undefined" in row["detail"] and "statistic is" in row["detail"]


@pytest.mark.parametrize("stored", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_metric_is_not_checkable(tmp_path: Path, stored: float) -> None:
    (claim,) = load_claims(
        _claims(tmp_path, "  - {id: m, metric: acc, printed: 76.7, scale: 100}\n")
    )
    outcome = check_claim(claim, {"acc": stored})
    assert outcome.verdict == "not_checkable"
    assert f"value is {stored * 100}" in outcome.detail


def test_nan_metric_in_results_json_is_a_verdict_not_exit_3(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    doc = {"schema": "crma-eval/results/1", "metrics": {"acc": float("nan")}}
    (run / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    path = _claims(tmp_path, "  - {id: m, metric: acc, printed: 0.5}\n")
    result = CliRunner().invoke(cli, ["claims", str(path), str(run), "--json"])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.output)
    assert row["verdict"] == "not_checkable" and "value is nan" in row["detail"]


@pytest.mark.parametrize("k,n", [(0, 10), (1, 12), (3, 9)])
def test_method_mismatch_names_the_method_of_each_number(tmp_path: Path, k: int, n: int) -> None:
    cp_low, cp_high = proportion_confint(k, n, alpha=0.05, method="beta")
    _, wi_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    low, high = f"{cp_low * 100:.1f}", f"{cp_high * 100:.1f}"
    (claim,) = load_claims(
        _claims(
            tmp_path,
            f"  - {{id: p, proportion: {{k: {k}, n: {n}}}, interval: [{low}, {high}], "
            "unit: percent, method: wilson}\n",
        )
    )
    outcome = check_claim(claim, None)
    assert outcome.verdict == "method_mismatch" and outcome.method == "clopper_pearson"
    detail = outcome.detail
    cp_part, wilson_part = detail.split("Clopper–Pearson exact gives")[1].split(
        "Wilson score gives"
    )
    assert f"{cp_high * 100:.4g}" in cp_part
    assert f"{wi_high * 100:.4g}" in wilson_part
    assert f"{wi_high * 100:.4g}" not in cp_part


def test_equivalence_on_non_finite_metrics_is_not_checkable(tmp_path: Path) -> None:
    (claim,) = load_claims(
        _claims(
            tmp_path,
            "  - {id: e, equivalence: {values: 'qa.*.acc'}, margin: 0.1, mode: equivalence}\n",
        )
    )
    metrics = {"qa.a.acc": 0.5, "qa.b.acc": float("nan"), "qa.c.acc": 0.4}
    outcome = check_claim(claim, metrics)
    assert outcome.verdict == "not_checkable" and "qa.b.acc is nan" in outcome.detail
