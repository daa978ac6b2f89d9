"""Regression gate: bounds, globs, baseline comparisons with paired tests, outputs, spec errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from crma_eval.errors import InputError
from crma_eval.gate import run_gate

METRICS = {
    "qa.with_crma.accuracy": 0.95,
    "qa.without_crma.accuracy": 0.7,
    "spectral.attn.max_dev": 1e-9,
    "spectral.mlp.max_dev": 5e-6,
    "spectral.all.max_dev": 5e-6,
    "router.ood.auroc": None,
    "drift.modular.drift.mean": 1.0,
}


def write_run(
    path: Path, metrics: dict[str, Any], records: list[dict[str, Any]] | None = None
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    doc = {"schema": "crma-eval/results/1", "metrics": metrics, "plugins": {}, "meta": {}}
    (path / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    if records:
        (path / "records").mkdir()
        lines = "".join(json.dumps(r) + "\n" for r in records)
        (path / "records" / "records.jsonl").write_text(lines, encoding="utf-8")
    return path


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def junit_cases(run: Path) -> dict[str, ET.Element]:
    root = ET.parse(run / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["crma-eval gate"]
    return {case.get("name") or "": case for case in suites[0].findall("testcase")}


def failed(run: Path) -> set[str]:
    return {name for name, case in junit_cases(run).items() if case.find("failure") is not None}


def qa_records(arm: str, correct: list[bool], domain: str = "medical") -> list[dict[str, Any]]:
    return [
        {"kind": "qa", "arm": arm, "domain": domain, "item_id": f"q{i}", "correct": c}
        for i, c in enumerate(correct)
    ]


def test_passing_spec(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(
        tmp_path,
        "gates:\n  - name: floor\n    metric: qa.with_crma.accuracy\n    min: 0.9\n"
        "  - metric: drift.modular.drift.mean\n    min: 0\n    max: 2\n",
    )
    report = run_gate(run, spec)
    assert report.passed and report.exit_code == 0
    assert [o.metric for o in report.outcomes] == [
        "qa.with_crma.accuracy",
        "drift.modular.drift.mean",
    ]
    assert failed(run) == set()
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert summary.splitlines()[0].startswith("## ✅") and "passed" in summary.splitlines()[0]


def test_failing_bound(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(
        tmp_path,
        "gates:\n  - name: floor\n    metric: qa.without_crma.accuracy\n    min: 0.9\n"
        "  - name: ok\n    metric: qa.with_crma.accuracy\n    max: 1\n",
    )
    report = run_gate(run, spec)
    assert not report.passed and report.exit_code == 1
    assert failed(run) == {"floor [qa.without_crma.accuracy]"}
    message = junit_cases(run)["floor [qa.without_crma.accuracy]"].find("failure").get("message")
    assert "0.7 is below min 0.9" in message


def test_glob_checks_every_match(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(
        tmp_path, "gates:\n  - name: dsm\n    metric: 'spectral.*.max_dev'\n    max: 1.0e-6\n"
    )
    report = run_gate(run, spec)
    assert sorted(o.metric for o in report.outcomes) == [
        "spectral.all.max_dev",
        "spectral.attn.max_dev",
        "spectral.mlp.max_dev",
    ]
    assert failed(run) == {"dsm [spectral.all.max_dev]", "dsm [spectral.mlp.max_dev]"}
    assert len(junit_cases(run)) == 3


def test_glob_matching_nothing_fails(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(tmp_path, "gates:\n  - metric: qa.renamed.accuracy\n    min: 0\n")
    report = run_gate(run, spec)
    assert report.exit_code == 1
    (outcome,) = report.outcomes
    assert not outcome.passed and "no metric matches" in outcome.detail
    assert len(failed(run)) == 1


def test_null_metric_fails(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(tmp_path, "gates:\n  - metric: router.ood.auroc\n    min: 0.5\n")
    (outcome,) = run_gate(run, spec).outcomes
    assert not outcome.passed and "null" in outcome.detail


def test_yaml_1e_threshold_text_is_a_number(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(tmp_path, "gates:\n  - metric: spectral.attn.max_dev\n    max: 1e-6\n")
    assert run_gate(run, spec).passed


def test_summary_and_junit_escape_untrusted_text(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    name = 'a | b <script>&"'
    spec = write_spec(tmp_path, f"gates:\n  - name: '{name}'\n    metric: qa.*\n    min: 0.9\n")
    run_gate(run, spec)
    cases = junit_cases(run)
    assert f"{name} [qa.without_crma.accuracy]" in cases  # round-trips through XML escaping
    summary = (run / "summary.md").read_text(encoding="utf-8")
    lines = summary.splitlines()
    assert lines[0] == "## ❌ crma-eval gate failed: 1 of 2 checks failed"
    rows = [line for line in lines if line.startswith("| ✅") or line.startswith("| ❌")]
    assert len(rows) == 2
    assert all(row.count(" | ") == 6 for row in rows)  # pipes in the rule name are escaped
    assert "<script>" not in summary and "a \\| b &lt;script&gt;" in summary


def _pvalue(b: int, c: int) -> float:
    return float(sm_mcnemar(np.array([[0, b], [c, 0]]), exact=True).pvalue)


def _baseline_pair(tmp_path: Path, wrong_now: int, n: int = 60) -> tuple[Path, Path]:
    base = [True] * n
    now = [i >= wrong_now for i in range(n)]
    metric = "qa.with_crma.accuracy"
    baseline = write_run(tmp_path / "base", {metric: 1.0}, qa_records("with_crma", base))
    current = write_run(tmp_path / "cur", {metric: sum(now) / n}, qa_records("with_crma", now))
    return baseline, current


COMPARE = "gates:\n  - name: no drop\n    compare: qa.with_crma.accuracy\n    max_drop: 0.02\n"


def test_significant_drop_fails(tmp_path: Path) -> None:
    baseline, current = _baseline_pair(tmp_path, wrong_now=12)
    report = run_gate(current, write_spec(tmp_path, COMPARE), baseline)
    (outcome,) = report.outcomes
    assert report.exit_code == 1 and not outcome.passed
    assert f"p = {_pvalue(12, 0):.3g}" in outcome.detail and _pvalue(12, 0) < 0.05
    assert (
        "b = 12" in outcome.detail and "c = 0" in outcome.detail and "two-sided" in outcome.detail
    )
    assert failed(current) == {"no drop [qa.with_crma.accuracy]"}


def test_nonsignificant_drop_passes(tmp_path: Path) -> None:
    baseline, current = _baseline_pair(tmp_path, wrong_now=2)  # drop 0.033 > 0.02, p = 0.5
    report = run_gate(current, write_spec(tmp_path, COMPARE), baseline)
    (outcome,) = report.outcomes
    assert report.exit_code == 0 and outcome.passed
    assert f"p = {_pvalue(2, 0):.3g}" in outcome.detail and "not significant" in outcome.detail


def test_drop_within_max_drop_passes_even_if_significant(tmp_path: Path) -> None:
    baseline, current = _baseline_pair(tmp_path, wrong_now=12)
    spec = write_spec(tmp_path, COMPARE.replace("0.02", "0.5"))
    assert run_gate(current, spec, baseline).passed


def test_alpha_changes_the_verdict(tmp_path: Path) -> None:
    baseline, current = _baseline_pair(tmp_path, wrong_now=5)  # p = 0.0625
    loose = write_spec(tmp_path, COMPARE + "    alpha: 0.1\n")
    assert not run_gate(current, loose, baseline).passed
    strict = write_spec(tmp_path, COMPARE + "    alpha: 0.05\n")
    assert run_gate(current, strict, baseline).passed


def test_domain_metric_pairs_only_that_domain(tmp_path: Path) -> None:
    base = qa_records("with_crma", [True] * 30, "medical") + qa_records(
        "with_crma", [True] * 30, "legal"
    )
    now = qa_records("with_crma", [True] * 30, "medical") + qa_records(
        "with_crma", [False] * 30, "legal"
    )
    metrics = {"qa.with_crma.medical.accuracy": 1.0, "qa.with_crma.legal.accuracy": 1.0}
    baseline = write_run(tmp_path / "base", metrics, base)
    current = write_run(tmp_path / "cur", {**metrics, "qa.with_crma.legal.accuracy": 0.0}, now)
    spec = write_spec(tmp_path, "gates:\n  - compare: 'qa.with_crma.*.accuracy'\n")
    report = run_gate(current, spec, baseline)
    by_metric = {o.metric: o for o in report.outcomes}
    assert by_metric["qa.with_crma.medical.accuracy"].passed
    legal = by_metric["qa.with_crma.legal.accuracy"]
    assert not legal.passed and "b = 30" in legal.detail and "30 pairs" in legal.detail


def test_unmatched_items_are_an_error(tmp_path: Path) -> None:
    metric = "qa.with_crma.accuracy"
    baseline = write_run(tmp_path / "base", {metric: 1.0}, qa_records("with_crma", [True] * 5))
    now = qa_records("with_crma", [True] * 4)
    now.append({**now[0], "item_id": "extra-item"})
    current = write_run(tmp_path / "cur", {metric: 1.0}, now)
    with pytest.raises(InputError) as err:
        run_gate(current, write_spec(tmp_path, COMPARE), baseline)
    assert "q4" in str(err.value) and "extra-item" in str(err.value)
    assert not (current / "junit.xml").exists() and not (current / "summary.md").exists()


def test_bench_metric_pairs_binary_records(tmp_path: Path) -> None:
    def bench(values: list[int]) -> list[dict[str, Any]]:
        return [
            {
                "kind": "bench",
                "task": "gsm8k",
                "arm": "after",
                "doc_id": i,
                "metric": "exact_match",
                "filter": "strict",
                "value": v,
            }
            for i, v in enumerate(values)
        ]

    metric = "bench.gsm8k.after.exact_match"
    baseline = write_run(tmp_path / "base", {metric: 1.0}, bench([1] * 40))
    current = write_run(tmp_path / "cur", {metric: 0.75}, bench([0] * 10 + [1] * 30))
    spec = write_spec(tmp_path, f"gates:\n  - compare: {metric}\n    max_drop: 0.05\n")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    assert not outcome.passed
    assert f"p = {_pvalue(10, 0):.3g}" in outcome.detail and "40 pairs" in outcome.detail


def test_metric_without_records_is_threshold_only(tmp_path: Path) -> None:
    metric = "drift.modular.drift.mean"
    baseline = write_run(tmp_path / "base", {metric: 1.0})
    current = write_run(tmp_path / "cur", {metric: 0.5})
    spec = write_spec(tmp_path, f"gates:\n  - compare: {metric}\n    max_drop: 0.1\n")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    assert not outcome.passed and "no paired records: threshold only" in outcome.detail
    current = write_run(tmp_path / "cur2", {metric: 0.95})
    (outcome,) = run_gate(current, spec, baseline).outcomes
    assert outcome.passed and "threshold only" in outcome.detail


def test_metric_missing_in_baseline_fails(tmp_path: Path) -> None:
    baseline = write_run(tmp_path / "base", {"other.x.mean": 1.0})
    current = write_run(tmp_path / "cur", {"drift.modular.drift.mean": 0.5})
    spec = write_spec(tmp_path, "gates:\n  - compare: drift.modular.drift.mean\n")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    assert not outcome.passed and "baseline" in outcome.detail


def test_compare_without_baseline_is_skipped_with_a_note(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(
        tmp_path, "gates:\n  - metric: qa.*\n    min: 2\n  - compare: qa.with_crma.accuracy\n"
    )
    report = run_gate(run, spec)  # one spec for runs with and without --baseline
    skipped = [o for o in report.outcomes if o.rule.kind == "compare"]
    assert len(skipped) == 1 and skipped[0].passed and "--baseline" in skipped[0].detail
    assert skipped[0].detail.startswith("skipped")
    assert not report.passed  # the metric rule still decides (min 2 fails)
    assert "skipped: no --baseline" in (run / "summary.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("gates: [\n  - oops\n", 2, "invalid YAML"),
        ("rules: []\n", 1, "'gates'"),
        ("gates: []\n", 1, "non-empty list"),
        ("gates:\n  - metric: a.b\n    min: 0\n  - name: x\n    max: 1\n", 4, "exactly one of"),
        ("gates:\n  - metric: a.b\n    compare: a.b\n", 2, "exactly one of"),
        ("gates:\n  - metric: a.b\n", 2, "'min' and/or 'max'"),
        ("gates:\n  - metric: a.b\n    min: 0\n    threshold: 1\n", 4, "unknown key"),
        ("gates:\n  - metric: a.b\n    min: high\n", 3, "finite number"),
        ("gates:\n  - metric: a.b\n    max: true\n", 3, "finite number"),
        ("gates:\n  - metric: a.b\n    min: 2\n    max: 1\n", 2, "greater than max"),
        ("gates:\n  - metric: a.b\n    max: 1\n    alpha: 0.1\n", 4, "only for 'compare'"),
        ("gates:\n  - compare: a.b\n    min: 1\n", 3, "only for 'metric'"),
        ("gates:\n  - compare: a.b\n    alpha: 1.5\n", 2, "alpha"),
        ("gates:\n  - just a string\n", 2, "mapping"),
    ],
)
def test_spec_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(tmp_path, text)
    with pytest.raises(InputError) as err:
        run_gate(run, spec, run)
    assert err.value.path == str(spec) and err.value.line == line
    assert words in str(err.value)
    assert not (run / "junit.xml").exists()


def test_missing_run_and_spec(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "gates:\n  - metric: a\n    min: 0\n")
    with pytest.raises(InputError, match="run directory not found"):
        run_gate(tmp_path / "nope", spec)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"results\.json"):
        run_gate(tmp_path / "empty", spec)
    run = write_run(tmp_path / "run", METRICS)
    with pytest.raises(InputError, match="file not found"):
        run_gate(run, tmp_path / "absent.yaml")


def test_report_to_dict_is_json(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(tmp_path, "gates:\n  - metric: 'qa.*'\n    min: 0.9\n")
    data = json.loads(json.dumps(run_gate(run, spec).to_dict()))
    assert data["exit_code"] == 1
    assert [o["passed"] for o in data["outcomes"]] == [True, False]
    assert data["outcomes"][0]["line"] == 2


def test_drop_equal_to_max_drop_passes_despite_float_rounding(tmp_path: Path) -> None:
    metric = "drift.modular.final.mean"
    assert 0.9 - 0.88 > 0.02  # the float subtraction the gate must not trip over
    baseline = write_run(tmp_path / "base", {metric: 0.9})
    current = write_run(tmp_path / "cur", {metric: 0.88})
    spec = write_spec(tmp_path, f"gates:\n  - compare: {metric}\n    max_drop: 0.02\n")
    assert run_gate(current, spec, baseline).passed


def test_glob_in_summary_is_not_markdown_emphasis(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", METRICS)
    spec = write_spec(tmp_path, "gates:\n  - metric: 'spectral.*.max_dev'\n    max: 1\n")
    run_gate(run, spec)
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert "spectral.\\*.max\\_dev" in summary and "spectral.*." not in summary


def test_shipped_example_spec_is_valid() -> None:
    from crma_eval.gate.spec import load_spec

    rules = load_spec(Path(__file__).parents[2] / "examples" / "demo-gates.yaml")
    assert any(r.pattern == "spectral.all.max_dev" for r in rules)
