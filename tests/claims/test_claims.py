"""Claims check: verdicts against values computed independently with statsmodels/scipy."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import proportion_confint

from crma_eval.claims import check_file
from crma_eval.claims.check import Outcome, _sample_with
from crma_eval.claims.printed import Printed
from crma_eval.errors import InputError

SETTINGS = settings(max_examples=60, deadline=None)
SM_NAME = {
    "wilson": "wilson",
    "clopper_pearson": "beta",
    "jeffreys": "jeffreys",
    "agresti_coull": "agresti_coull",
    "wald": "normal",
}


def check_yaml(text: str) -> list[Outcome]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "claims.yaml"
        path.write_text("claims:\n" + text, encoding="utf-8")
        return check_file(path)


def one(text: str) -> Outcome:
    (outcome,) = check_yaml(text)
    return outcome


@pytest.mark.parametrize(
    ("text", "unit", "tolerance"),
    [("99.5", 0.1, 0.05), ("100", 1.0, 0.5), ("-0.17", 0.01, 0.005), ("2.0e-16", 1e-17, 5e-18)],
)
def test_precision_comes_from_the_printed_digits(text: str, unit: float, tolerance: float) -> None:
    p = Printed.parse(text)
    assert p.unit == pytest.approx(unit) and p.tolerance == pytest.approx(tolerance)


def test_tolerance_overrides_the_printed_precision() -> None:
    claim = "  - {id: x, values: [1, 2, 4], printed: {sd: 1.6}, tolerance: 0.05}\n"
    # sd = 1.5275 (numpy ddof=1): 1.6 +/- 0.05 does not hold, +/- 0.1 would
    assert one(claim).verdict == "differs"
    assert one(claim.replace("0.05}", "0.1}")).verdict == "reproduced"


@SETTINGS
@given(
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from(sorted(SM_NAME)),
)
def test_interval_verdict_names_the_method_statsmodels_gives(kn: tuple[int, int], m: str) -> None:
    k, n = kn
    low, high = proportion_confint(k, n, alpha=0.05, method=SM_NAME[m])
    low = 0.0 if k == 0 else max(low, 0.0)
    high = 1.0 if k == n else min(high, 1.0)
    printed = [f"{100 * low:.1f}", f"{100 * high:.1f}"]
    outcome = one(
        f"  - id: p\n    proportion: {{k: {k}, n: {n}}}\n"
        f"    interval: [{printed[0]}, {printed[1]}]\n    unit: percent\n    method: wilson\n"
    )
    w_low, w_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    wilson_fits = all(
        abs(100 * b - float(t)) <= 0.05 + 1e-9
        for b, t in zip((w_low, w_high), printed, strict=True)
    )
    if wilson_fits:
        assert outcome.verdict == "reproduced"
    else:
        assert outcome.verdict == "method_mismatch"
        assert m in outcome.extra["matches"] and outcome.method in SM_NAME


@SETTINGS
@given(st.integers(1, 300), st.integers(0, 1000))
def test_grim_proportion_is_impossible_exactly_when_no_count_gives_it(n: int, tenths: int) -> None:
    printed = f"{tenths / 10:.1f}"
    outcome = one(f"  - {{id: g, proportion: {{n: {n}}}, printed: {printed}, unit: percent}}\n")
    possible = any(abs(100 * k / n - tenths / 10) <= 0.05 + 1e-9 for k in range(n + 1))
    assert outcome.verdict == ("reproduced" if possible else "impossible")


def test_grim_mean_of_integer_scores() -> None:
    # Brown & Heathers' example: mean 5.19 for n = 28 integer scores is impossible
    assert one("  - {id: m, mean: {n: 28}, printed: 5.19}\n").verdict == "impossible"
    assert one("  - {id: m, mean: {n: 28}, printed: 5.18}\n").verdict == "reproduced"


@SETTINGS
@given(
    st.lists(st.floats(-50, 50), min_size=2, max_size=8),
    st.lists(st.floats(-50, 50), min_size=2, max_size=8),
)
def test_welch_from_values_matches_scipy(a: list[float], b: list[float]) -> None:
    if np.ptp(a) < 1e-3 or np.ptp(b) < 1e-3:
        return
    ref = stats.ttest_ind(a, b, equal_var=False)
    outcome = one(
        f"  - id: w\n    welch: {{a: {a}, b: {b}}}\n"
        f"    printed: {{statistic: {abs(ref.statistic):.3f}, df: {ref.df:.2f}}}\n"
    )
    assert outcome.verdict == "reproduced"
    assert outcome.recomputed["df"] == pytest.approx(ref.df)


@SETTINGS
@given(
    st.floats(-10, 10),
    st.floats(0.01, 5),
    st.integers(2, 30),
    st.floats(-10, 10),
    st.floats(0.01, 5),
    st.integers(2, 30),
)
def test_summary_samples_give_scipy_welch_from_stats(
    m1: float, s1: float, n1: int, m2: float, s2: float, n2: int
) -> None:
    from crma_eval.stats import welch_t

    ref = stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False)
    got = welch_t(_sample_with(m1, s1, n1), _sample_with(m2, s2, n2))
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
    assert got.pvalue == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)


def test_welch_reproduced_only_from_rounded_summaries() -> None:
    a, b = [-0.03, -0.10, -0.36], [38.1, 41.7, 49.0]
    from_values = abs(stats.ttest_ind(a, b, equal_var=False).statistic)
    from_summary = abs(
        stats.ttest_ind_from_stats(-0.17, 0.17, 3, 42.96, 5.5, 3, equal_var=False).statistic
    )
    assert round(from_values, 1) != round(from_summary, 1) == 13.6
    outcome = one(
        f"  - id: w\n    welch: {{a: {a}, b: {b}}}\n"
        "    summary: {mean_a: -0.17, sd_a: 0.17, n_a: 3, mean_b: 42.96, sd_b: 5.5, n_b: 3}\n"
        "    printed: {statistic: 13.6}\n"
    )
    assert outcome.verdict == "rounded_summary_only"
    assert outcome.recomputed["statistic"] == pytest.approx(from_values)
    assert outcome.extra["from_summary"]["statistic"] == pytest.approx(from_summary)


def test_values_sd_differs_by_the_printed_difference() -> None:
    values = [1.47, 1.66, 2.71]
    sd = float(np.std(values, ddof=1))
    outcome = one(f"  - {{id: v, values: {values}, printed: {{mean: 1.95, sd: 0.64}}}}\n")
    assert outcome.verdict == "differs" and "mean" not in outcome.difference
    assert outcome.difference["sd"] == pytest.approx(round(sd, 2) - 0.64)


@pytest.mark.parametrize(("b", "c"), [(62, 2), (8, 1), (15, 0), (5, 5)])
def test_mcnemar_bound_against_statsmodels(b: int, c: int) -> None:
    p = sm_mcnemar([[0, b], [c, 0]], exact=True).pvalue
    text = f"{p * 1.3:.3e}"  # a bound above the true p holds; a bound below it does not
    below = f"{p * 0.7:.3e}"
    claim = "  - {{id: m, mcnemar: {{b: {b}, c: {c}}}, printed: {{pvalue: {t}}}, relation: '<='}}\n"
    assert one(claim.format(b=b, c=c, t=text)).verdict == "reproduced"
    assert one(claim.format(b=b, c=c, t=below)).verdict == "differs"


def test_permutation_floor_of_three_vs_three() -> None:
    outcome = one(
        "  - id: p\n    permutation: {a: [1, 2, 3], b: [10, 11, 12]}\n"
        f"    printed: {{pvalue: {2 / math.comb(6, 3):.2f}, floor: 0.10}}\n"
    )
    assert outcome.verdict == "reproduced"


def test_metric_claims_need_a_run_dir() -> None:
    outcome = one("  - {id: x, metric: qa.a.accuracy, printed: 0.9}\n")
    assert outcome.verdict == "not_checkable" and "qa.a.accuracy" in outcome.detail


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("  - {id: a, metric: m, printed: 1}\n  - {id: a, metric: m, printed: 2}\n", 3, "dupl"),
        ("  - id: a\n    proportion: {k: 5, n: 4}\n    printed: 1\n    unit: percent\n", 3, "k"),
        ("  - id: a\n    proportion: {k: 1, n: 4}\n    printed: 25\n", 2, "unit"),
        ("  - id: a\n    metric: m\n    printed: 1\n    colour: red\n", 5, "colour"),
        ("  - id: a\n    values: [1, 2]\n    printed: {median: 1}\n", 4, "median"),
        ("  - {id: a, printed: 1}\n", 2, "exactly one"),
        ("  - id: a\n    metric: m\n    printed: [1\n", None, "YAML"),
    ],
)
def test_bad_claims_files_name_file_and_line(text: str, line: int | None, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        check_yaml(text)
    assert fragment in err.value.one_line()
    if line is not None:
        assert err.value.line == line and err.value.path and err.value.path.endswith(".yaml")


@SETTINGS
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wald_is_recognised_only_and_equals_statsmodels_normal(kn: tuple[int, int]) -> None:
    from crma_eval.stats import PROPORTION_METHODS, proportion_ci

    k, n = kn
    low, high = proportion_ci(k, n, 0.95, "wald")
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="normal")
    assert "wald" not in PROPORTION_METHODS  # never offered as a report's interval
    assert low == pytest.approx(max(ref_low, 0.0), abs=1e-12)
    assert high == pytest.approx(1.0 if k == n else min(ref_high, 1.0), abs=1e-12)
