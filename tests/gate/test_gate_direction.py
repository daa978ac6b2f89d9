"""Metric direction (higher or lower is better): catalogue entries, gate compare rules,
`gate --calibrate` and `compare`.

Right values come from outside the code under test: lm-eval's own registry of
`higher_is_better`, the definitions (a perplexity, a loss-relative drift: lower is better) and
arithmetic on the stated values.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from crma_eval.api.catalogue import MetricInfo, describe
from crma_eval.cli import cli
from crma_eval.errors import InputError
from crma_eval.gate import load_spec, run_gate
from crma_eval.plan.calibrate import calibrate, round_up, yaml_snippet
from crma_eval.plugins.bench.catalogue import HIGHER_IS_BETTER, LOWER_IS_BETTER, direction
from crma_eval.plugins.drift.catalogue import drift_info

PPL = "bench.wiki.base.word_perplexity.score"
PPL_INFO = {"role": "estimate", "estimand": "word perplexity", "scale": "perplexity",
            "direction": "lower"}  # fmt: skip


def write_run(
    path: Path, metrics: dict[str, Any], info: dict[str, dict[str, Any]] | None = None
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    meta = {"metric_info": info} if info else {}
    doc = {"schema": "crma-eval/results/1", "metrics": metrics, "plugins": {}, "meta": meta}
    (path / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return path


def gate_one(tmp_path: Path, metric: str, base: float, now: float, rule: str, info: Any) -> Any:
    baseline = write_run(tmp_path / "base", {metric: base}, info)
    current = write_run(tmp_path / "cur", {metric: now}, info)
    spec = tmp_path / "gates.yaml"
    spec.write_text(f'gates:\n  - compare: "{metric}"\n    {rule}\n', encoding="utf-8")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    return outcome


def test_bench_directions_agree_with_lm_eval_registry() -> None:
    from lm_eval.api import metrics as _registered  # noqa: F401  (fills the registry)
    from lm_eval.api.registry import HIGHER_IS_BETTER_REGISTRY

    checked = 0
    for metric, higher in HIGHER_IS_BETTER_REGISTRY.items():
        if metric in LOWER_IS_BETTER | HIGHER_IS_BETTER:
            assert direction({"metric": metric}) == ("higher" if higher else "lower"), metric
            checked += 1
    assert checked >= 10
    # lm-eval's own flag in the records wins over the name
    assert direction({"metric": "acc", "higher_is_better": False}) == "lower"
    assert direction({"metric": "some_new_metric"}) is None


def test_describe_gives_estimates_and_bounds_the_direction_only() -> None:
    names = ["x.a.accuracy", "x.a.ci_low", "x.a.ci_high", "x.a.k", "x.a.n", "x.a.pvalue"]
    found = describe(names, "x.a", "accuracy", "acc", direction="lower")
    assert {n for n, i in found.items() if i.direction == "lower"} == set(names[:3])
    # old results.json entries (no direction) still read; None is not written
    old = MetricInfo.from_json({"role": "estimate", "estimand": "e"})
    assert old.direction is None and "direction" not in old.to_json()
    assert MetricInfo.from_json(found["x.a.ci_low"].to_json()) == found["x.a.ci_low"]
    with pytest.raises(ValueError, match="direction"):
        MetricInfo("estimate", "e", direction="up")


@pytest.mark.parametrize(("base", "now", "passed"), [(10.0, 12.0, False), (10.0, 8.0, True),
                                                     (10.0, 10.5, True)])  # fmt: skip
def test_perplexity_rise_is_a_worsening(
    tmp_path: Path, base: float, now: float, passed: bool
) -> None:
    outcome = gate_one(tmp_path, PPL, base, now, "max_drop: 1", {PPL: PPL_INFO})
    worse = now - base  # lower is better: current − baseline
    assert outcome.passed is passed and outcome.extra["worse_by"] == pytest.approx(worse)
    assert "lower is better" in outcome.detail and outcome.extra["direction"] == "lower"
    assert ("worse by" if worse >= 0 else "better by") in outcome.detail


def test_loss_relative_drift_rise_is_a_worsening(tmp_path: Path) -> None:
    metric = "drift.modular.drift.mean"
    cond = {"condition": "modular", "seeds": [], "domains": []}
    info = drift_info({metric: 1.0}, {"conditions": [cond], "advantages": [], "tests": []})
    assert info[metric].direction == "lower"
    entries = {metric: info[metric].to_json()}
    rising = gate_one(tmp_path / "up", metric, 1.0, 3.0, "max_drop: 0.5", entries)
    falling = gate_one(tmp_path / "down", metric, 3.0, 1.0, "max_drop: 0.5", entries)
    assert not rising.passed and "worse by 2" in rising.detail
    assert falling.passed and "better by 2" in falling.detail


def test_accuracy_and_unknown_direction_keep_the_old_reading(tmp_path: Path) -> None:
    acc = {"role": "estimate", "estimand": "a", "direction": "higher"}
    known = gate_one(tmp_path / "k", "qa.a.accuracy", 0.9, 0.8, "max_drop: 0.05",
                     {"qa.a.accuracy": acc})  # fmt: skip
    assert not known.passed and "higher is better" in known.detail and "assumed" not in known.detail
    guessed = gate_one(tmp_path / "u", "x.y.score", 0.9, 0.8, "max_drop: 0.05", None)
    assert not guessed.passed and "assumed" in guessed.detail
    assert guessed.extra["direction_assumed"] is True


@pytest.mark.parametrize(
    ("rule", "ok"),
    [
        ("alpha: 0.6", False),
        ("alpha: 0.5", True),
        ("alpha: 0", False),
        ("alpha: .nan", False),
        ("mode: equivalence\n    margin: 0.1\n    alpha: 0.5", False),
        ("mode: non_inferiority\n    margin: 0.1\n    alpha: 0.7", False),
        ("mode: non_inferiority\n    margin: 0.1\n    alpha: 0.49", True),
        ("mode: non_inferiority\n    margin: .inf", False),
        ("max_drop: -0.1", False),
        ("max_drop: .inf", False),
        ("power: 1", False),
    ],
)
def test_spec_ranges(tmp_path: Path, rule: str, ok: bool) -> None:
    spec = tmp_path / "g.yaml"
    spec.write_text(f"gates:\n  - metric: a.b\n    min: 0\n  - compare: x\n    {rule}\n", "utf-8")
    if ok:
        assert load_spec(spec)[1].kind == "compare"
        return
    with pytest.raises(InputError) as err:
        load_spec(spec)
    text = str(err.value)  # the rule's line (4), or the key's own line for a non-number
    assert re.search(r"g\.yaml:[456]: field '", text)
    result = CliRunner().invoke(cli, ["gate", str(tmp_path), "--spec", str(spec)])
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize("argv", [["gate", "--calibrate", "a", "b", "--alpha", "0.6"],
                                  ["plan", "--accuracy", "0.8", "--alpha", "0.7"],
                                  ["plan", "--accuracy", "0.8", "--alpha", "nan"],
                                  ["plan", "--sd", "inf"]])  # fmt: skip
def test_cli_levels_are_checked(argv: list[str]) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_calibrate_on_estimates_within_the_scale(tmp_path: Path) -> None:
    wide, narrow, ppl = [0.1, 0.9, 0.5], [0.80, 0.82, 0.79], [10.0, 10.4, 10.1]
    runs = [
        write_run(tmp_path / f"r{i}", {
            "qa.a.accuracy": w, "qa.a.ci_low": w - 0.05, "qa.a.ci_high": w + 0.05,
            "qa.a.k": 10 * i, "qa.a.n": 100, "qa.a.pvalue": 0.3, "qa.b.accuracy": a, PPL: p,
        }, {PPL: PPL_INFO})
        for i, (w, a, p) in enumerate(zip(wide, narrow, ppl, strict=True))
    ]  # fmt: skip
    result = calibrate(runs, ("qa.**", "bench.**"), 0.05)
    assert result.left_out == {
        "interval bound (not an estimate)": 2, "count (not an estimate)": 2,
        "p-value (not an estimate)": 1,
    }  # fmt: skip
    text = yaml_snippet(result, 0.05, 3)
    spec = tmp_path / "gates.yaml"
    spec.write_text(text, encoding="utf-8")
    rules = {r.pattern: r for r in load_spec(spec)}
    z = float(stats.norm.isf(0.025))
    # qa.a.accuracy spreads over 0.8 > its fraction range allows: no rule, said why
    assert z * math.sqrt(2) * np.std(wide, ddof=1) > 1 and "qa.a.accuracy" not in rules
    assert "too noisy to gate" in text and "left out 5 matching metrics" in text
    narrow_margin = round_up(max(z * math.sqrt(2) * np.std(narrow, ddof=1), 0.03))
    assert rules["qa.b.accuracy"].mode == "non_inferiority"
    assert rules["qa.b.accuracy"].margin == pytest.approx(narrow_margin)
    # a perplexity has no per-item 0/1 records: a max_drop threshold, lower is better
    ppl_margin = round_up(max(z * math.sqrt(2) * np.std(ppl, ddof=1), 0.4))
    assert rules[PPL].mode == "significant_drop" and rules[PPL].max_drop == pytest.approx(
        ppl_margin
    )
    assert "lower is better" in text and "max_drop threshold" in text
    for rule in rules.values():
        assert max(rule.margin, rule.max_drop) < 1 or rule.pattern == PPL


def test_compare_says_better_or_worse_by_direction(tmp_path: Path) -> None:
    from crma_eval.report.compare import compare_runs, markdown

    acc = {"role": "estimate", "estimand": "a", "direction": "higher"}
    info = {PPL: PPL_INFO, "qa.a.accuracy": acc}
    a = write_run(tmp_path / "a", {PPL: 12.0, "qa.a.accuracy": 0.8, "x.y.score": 1.0}, info)
    b = write_run(tmp_path / "b", {PPL: 10.0, "qa.a.accuracy": 0.7, "x.y.score": 2.0}, info)
    comp = compare_runs(a, b)
    assert comp.verdict(PPL, 12.0, 10.0).startswith("B better")  # perplexity fell
    assert comp.verdict("qa.a.accuracy", 0.8, 0.7).startswith("B worse")
    assert comp.verdict("x.y.score", 1.0, 2.0) == "—"  # direction unknown
    assert "B better (lower is better)" in markdown(comp)


def test_bench_records_carry_lm_eval_direction() -> None:
    from crma_eval.plugins.bench.samples import sample_records

    class Task:  # lm-eval's Task API: higher_is_better() -> {metric: bool}
        def higher_is_better(self) -> dict[str, bool]:
            return {"word_perplexity": False, "acc": True}

    samples = {"wiki": [{"doc_id": 0, "metrics": ["word_perplexity", "other"],
                         "word_perplexity": (-12.0, 5), "other": 0.5}]}  # fmt: skip
    records = sample_records(samples, "wiki", "base", None, tasks={"wiki": Task()})
    flags = {r["metric"]: r.get("higher_is_better") for r in records}
    assert flags == {"word_perplexity": False, "other": None}
    untold = sample_records(samples, "wiki", "base", None)  # no task object: no flag
    assert all("higher_is_better" not in r for r in untold)
