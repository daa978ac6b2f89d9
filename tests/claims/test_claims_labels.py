"""claims on degenerate data and on bounds: essentially constant data get exact tests (never a
t-test p like 1e-34), a statsmodels warning is reported in the verdict (not on the console), the
significant_drop wording, and a claim with an interval on an interval bound names the estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.special import comb

from crma_eval.analyze import analyze_paths
from crma_eval.claims import check_file

PAPER = Path(__file__).parents[2] / "examples" / "paper"


def _claims(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("n", [3, 6])
def test_identical_values_get_the_exact_sign_flip_tost(tmp_path: Path, n: int) -> None:
    values = [0.25] * n
    body = f"  - id: eq\n    equivalence: {{values: {values}}}\n    margin: 1.0\n"
    (eq,) = check_file(_claims(tmp_path, body))
    # each one-sided exact sign-flip p of n values all on one side: 1 / 2^n (the max of the two)
    assert eq.recomputed["pvalue"] == pytest.approx(0.5**n)
    assert "essentially constant" in eq.detail and "sign-flip" in eq.detail
    assert (eq.recomputed["low"], eq.recomputed["high"]) == (0.25, 0.25)


def test_identical_samples_get_the_exact_permutation_tost(tmp_path: Path) -> None:
    same = "[0.5, 0.5, 0.5]"
    body = f"  - id: eq\n    equivalence: {{a: {same}, b: {same}}}\n    margin: 1.0\n"
    (eq,) = check_file(_claims(tmp_path, body))
    # a - 1 vs b: every value of a below every value of b; one-sided p = 1 / C(6, 3)
    assert eq.recomputed["pvalue"] == pytest.approx(1 / comb(6, 3))
    assert "permutation" in eq.detail and eq.recomputed["pvalue"] > 1e-3


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_statsmodels_warning_is_reported_in_the_verdict(tmp_path: Path) -> None:
    body = "  - id: eq\n    equivalence: {values: [0.0, 1.0e-320]}\n    margin: 1.0\n"
    (eq,) = check_file(_claims(tmp_path, body))
    assert "statsmodels warned: " in eq.detail and "divide by zero" in eq.detail


def test_significant_drop_says_what_a_drop_is(tmp_path: Path) -> None:
    body = ("  - id: d\n    equivalence: {values: [2.0, 2.5, 3.0, 2.2]}\n    margin: 0.5\n"
            "    mode: significant_drop\n")  # fmt: skip
    (drop,) = check_file(_claims(tmp_path, body))
    assert drop.verdict != "reproduced"
    assert "a significant drop is an estimate above 0.5 with two-sided p < 0.05" in drop.detail
    assert "not supported (a significant drop" in drop.detail


def test_an_interval_claimed_on_a_bound_names_the_estimate(tmp_path: Path) -> None:
    run = tmp_path / "run"
    analyze_paths([PAPER / "qa.jsonl"], run)
    metrics = json.loads((run / "results.json").read_text("utf-8"))["metrics"]
    bound = next(m for m in metrics if m.startswith("qa.") and m.endswith(".ci_low"))
    estimate = bound.removesuffix(".ci_low") + ".accuracy"
    body = (f"  - {{id: b, metric: {bound}, scale: 100, printed: 50.0, "
            "interval: [40.0, 60.0]}\n")  # fmt: skip
    (claim,) = check_file(_claims(tmp_path, body), run)
    assert claim.verdict == "not_checkable"
    assert "is an interval bound" in claim.detail and f"metric: {estimate}" in claim.detail
