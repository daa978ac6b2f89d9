"""Gate decision modes on paired runs: a large drop on few items, a small drop on many items and
an equivalent pair, under significant_drop, non_inferiority and equivalence.

Verdicts are checked against statsmodels' own tests on the paired differences (one-sided t test
against the margin for non-inferiority, ttost_paired for equivalence, exact McNemar for the
significant drop); MDEs against the exact power of the McNemar z-test (test_stats_power).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stats.test_stats_power import exact_ztest_power
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.weightstats import DescrStatsW, ttost_paired

from crma_eval.errors import InputError
from crma_eval.gate import load_spec, run_gate

METRIC = "qa.with_crma.accuracy"


def _answers(n: int, b: int, c: int) -> tuple[list[bool], list[bool]]:
    """Baseline and current 0/1 answers with b right only in the baseline, c only now."""
    both = (n - b - c) * 3 // 4
    base = [True] * b + [False] * c + [True] * both + [False] * (n - b - c - both)
    now = [False] * b + [True] * c + [True] * both + [False] * (n - b - c - both)
    return base, now


def _records(correct: list[bool], seeds: int = 1) -> list[dict[str, Any]]:
    n = len(correct) // seeds
    return [
        {
            "kind": "qa",
            "arm": "with_crma",
            "domain": "medical",
            "item_id": f"q{i % n}",
            "seed": i // n,
            "correct": c,
        }
        for i, c in enumerate(correct)
    ]


def _run(path: Path, correct: list[bool], seeds: int = 1, direction: str | None = None) -> Path:
    path.mkdir(parents=True)
    doc = {"schema": "crma-eval/results/1", "metrics": {METRIC: float(np.mean(correct))}}
    info = {METRIC: {"role": "estimate", "estimand": "e", "direction": direction}}
    meta = {"metric_info": info} if direction else {}
    (path / "results.json").write_text(json.dumps(doc | {"plugins": {}, "meta": meta}), "utf-8")
    (path / "records").mkdir()
    lines = "".join(json.dumps(r) + "\n" for r in _records(correct, seeds))
    (path / "records" / "qa.jsonl").write_text(lines, encoding="utf-8")
    return path


def _gate(tmp_path: Path, base: list[bool], now: list[bool], rule: str, seeds: int = 1) -> Any:
    baseline = _run(tmp_path / "base", base, seeds)
    current = _run(tmp_path / "cur", now, seeds)
    spec = tmp_path / "gates.yaml"
    spec.write_text(f"gates:\n  - compare: {METRIC}\n    {rule}\n", encoding="utf-8")
    report = run_gate(current, spec, baseline)
    (outcome,) = report.outcomes
    return outcome


# name, n, b, c: a large real drop on few items, a small drop on many, equivalent pairs
SCENARIOS = [
    ("large drop, few items", 10, 3, 0),
    ("small drop, many items", 20000, 550, 450),
    ("equivalent, many items", 4000, 60, 60),
    ("equivalent, few items", 20, 1, 1),
]
MODES = {
    "significant_drop": "max_drop: 0.0",
    "non_inferiority": "mode: non_inferiority\n    margin: 0.02",
    "equivalence": "mode: equivalence\n    margin: 0.02",
}
# Expected verdicts, stated in advance (and checked against statsmodels below).
EXPECTED = {
    "large drop, few items": {
        "significant_drop": True,
        "non_inferiority": False,
        "equivalence": False,
    },
    "small drop, many items": {
        "significant_drop": False,
        "non_inferiority": True,
        "equivalence": True,
    },
    "equivalent, many items": {
        "significant_drop": True,
        "non_inferiority": True,
        "equivalence": True,
    },
    "equivalent, few items": {
        "significant_drop": True,
        "non_inferiority": False,
        "equivalence": False,
    },
}


def _independent_verdict(mode: str, base: list[bool], now: list[bool], b: int, c: int) -> bool:
    d = np.asarray(base, float) - np.asarray(now, float)
    if mode == "significant_drop":
        p = sm_mcnemar(np.array([[0, b], [c, 0]]), exact=True).pvalue
        return not (d.mean() > 0 and p < 0.05)
    if mode == "non_inferiority":
        return bool(DescrStatsW(d).ttest_mean(0.02, alternative="smaller")[1] < 0.05)
    pvalue = ttost_paired(np.asarray(base, float), np.asarray(now, float), -0.02, 0.02)[0]
    return bool(pvalue < 0.05)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("name", "n", "b", "c"), SCENARIOS)
def test_each_mode_on_each_scenario(
    tmp_path: Path, mode: str, name: str, n: int, b: int, c: int
) -> None:
    base, now = _answers(n, b, c)
    outcome = _gate(tmp_path, base, now, MODES[mode])
    assert outcome.passed is EXPECTED[name][mode]
    assert outcome.passed is _independent_verdict(mode, base, now, b, c)
    assert outcome.extra["mode"] == mode and "MDE" in outcome.detail


def test_underpowered_pass_shows_its_mde(tmp_path: Path) -> None:
    base, now = _answers(10, 3, 0)
    outcome = _gate(tmp_path, base, now, MODES["significant_drop"])
    assert outcome.passed and "not significant" in outcome.detail
    assert outcome.extra["mde"] > 0.3  # the 30-point drop is below what 10 items can detect
    assert f"MDE {outcome.extra['mde']:.3g}" in outcome.detail


@pytest.mark.parametrize(("n", "b", "c"), [(4000, 60, 60), (20000, 550, 450)])
def test_gate_mde_has_the_stated_power(tmp_path: Path, n: int, b: int, c: int) -> None:
    base, now = _answers(n, b, c)
    outcome = _gate(tmp_path, base, now, MODES["equivalence"])
    mde = outcome.extra["mde"]
    assert exact_ztest_power(mde, n, max((b + c) / n, mde), 0.05) == pytest.approx(0.8, abs=0.02)
    assert outcome.to_dict()["mde"] == mde and outcome.to_dict()["drop_high"] < 0.02


def test_repeated_items_use_the_item_level_t_interval(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n_items, seeds = 150, 3
    skill = np.tile(rng.uniform(0.3, 0.95, n_items), seeds)
    base = [bool(v) for v in rng.random(skill.size) < skill]
    now = [bool(v) for v in rng.random(skill.size) < skill - 0.01]
    d_items = (np.asarray(base, float) - np.asarray(now, float)).reshape(seeds, n_items).mean(0)
    for margin in (0.03, 0.08):
        rule = f"mode: equivalence\n    margin: {margin}"
        path = tmp_path / str(margin)
        outcome = _gate(path, base, now, rule, seeds)
        zeros = np.zeros(n_items)
        pvalue = ttost_paired(d_items, zeros, -margin, margin)[0]
        assert outcome.passed is bool(pvalue < 0.05)
        assert "per-item mean differences" in outcome.detail
    assert "design effect" in outcome.detail


def test_margin_mode_without_records_fails_saying_why(tmp_path: Path) -> None:
    for name in ("base", "cur"):
        (tmp_path / name).mkdir()
        doc = {"schema": "crma-eval/results/1", "metrics": {METRIC: 0.9}, "plugins": {}}
        (tmp_path / name / "results.json").write_text(json.dumps(doc | {"meta": {}}), "utf-8")
    spec = tmp_path / "g.yaml"
    spec.write_text(f"gates:\n  - compare: {METRIC}\n    {MODES['non_inferiority']}\n", "utf-8")
    report = run_gate(tmp_path / "cur", spec, tmp_path / "base")
    assert not report.passed and "needs per-item 0/1 records" in report.outcomes[0].detail


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("mode: equivalence", "needs a 'margin' > 0"),
        ("mode: non_inferiority\n    margin: 0", "needs a 'margin' > 0"),
        ("mode: nope\n    margin: 0.1", "must be one of"),
        ("margin: 0.1", "uses 'max_drop', not 'margin'"),
        ("mode: equivalence\n    margin: 0.1\n    max_drop: 0.1", "uses 'margin', not 'max_drop'"),
        ("mode: equivalence\n    margin: 0.1\n    power: 1.5", "power must be strictly"),
    ],
)
def test_bad_mode_specs_name_the_line(tmp_path: Path, rule: str, words: str) -> None:
    spec = tmp_path / "g.yaml"
    spec.write_text(f"gates:\n  - metric: a.b\n    min: 0\n  - compare: x\n    {rule}\n", "utf-8")
    with pytest.raises(InputError) as err:
        load_spec(spec)
    assert words in str(err.value) and (
        "g.yaml:4:" in str(err.value) or "g.yaml:5:" in str(err.value)
    )


def test_old_specs_keep_their_default_mode_and_name(tmp_path: Path) -> None:
    spec = tmp_path / "g.yaml"
    spec.write_text("gates:\n  - compare: qa.x.accuracy\n    max_drop: 0.02\n", "utf-8")
    (rule,) = load_spec(spec)
    assert rule.mode == "significant_drop" and rule.name.endswith("no significant drop vs baseline")
    assert rule.threshold == "drop ≤ 0.02 or p ≥ 0.05"


def test_compare_report_prints_the_mde(tmp_path: Path) -> None:
    from crma_eval.report.compare import compare_runs

    base, now = _answers(4000, 60, 60)
    baseline, current = _run(tmp_path / "base", base), _run(tmp_path / "cur", now)
    (row,) = compare_runs(baseline, current).paired
    assert exact_ztest_power(row.mde, 4000, max(0.03, row.mde), 0.05) == pytest.approx(
        0.8, abs=0.02
    )


@pytest.mark.parametrize(("n", "b", "c"), [(10, 0, 3), (20000, 450, 550), (4000, 60, 60)])
def test_margin_modes_orient_a_lower_is_better_metric(
    tmp_path: Path, n: int, b: int, c: int
) -> None:
    """A 0/1 metric where lower is better (an error indicator): the worsening is current −
    baseline, so more 1s now is worse; verdict as statsmodels' one-sided t test on now − base."""
    base, now = _answers(n, b, c)
    baseline = _run(tmp_path / "base", base, direction="lower")
    current = _run(tmp_path / "cur", now, direction="lower")
    spec = tmp_path / "g.yaml"
    spec.write_text(f"gates:\n  - compare: {METRIC}\n    {MODES['non_inferiority']}\n", "utf-8")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    worse = np.asarray(now, float) - np.asarray(base, float)
    expected = bool(DescrStatsW(worse).ttest_mean(0.02, alternative="smaller")[1] < 0.05)
    assert outcome.passed is expected and "lower is better" in outcome.detail
    assert outcome.extra["drop_low"] <= worse.mean() <= outcome.extra["drop_high"]
