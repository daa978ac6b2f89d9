"""`gate --calibrate` and `plan` faults from a new user's review: margins that fail the runs they
came from, rounding noise read as spread, globs crossing dots, options silently ignored."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats
from statsmodels.stats.power import TTestPower

from crma_eval.analyze import analyze_paths
from crma_eval.cli import cli
from crma_eval.gate import load_spec
from crma_eval.plan.planner import Targets, plan_from_metrics
from tests.recordgen import qa_arm, write

METRIC = "qa.with_crma.accuracy"


def _runs(tmp_path: Path, n_runs: int, n_items: int, seed: int) -> list[Path]:
    """Repeated runs of one checkpoint: independent errors at accuracy 0.75 on the same items."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n_runs):
        outcomes = rng.random(n_items) < 0.75
        records = write(tmp_path / f"qa{i}.jsonl", qa_arm("with_crma", "med", outcomes))
        analyze_paths([records], tmp_path / f"run{i}")
        runs.append(tmp_path / f"run{i}")
    return runs


def _calibrate(*args: str) -> Any:
    return CliRunner().invoke(cli, ["gate", "--calibrate", *args])


def _gate(current: Path, spec: Path, baseline: Path) -> int:
    args = ["gate", str(current), "--spec", str(spec), "--baseline", str(baseline)]
    return CliRunner().invoke(cli, args).exit_code


def _accuracy(run: Path) -> float:
    doc = json.loads((run / "results.json").read_text(encoding="utf-8"))
    return float(doc["metrics"][METRIC])


@pytest.mark.parametrize(("n_runs", "n_items", "seed"), [(2, 90, 1), (3, 60, 7)])
def test_a_calibrated_spec_passes_every_pair_of_its_runs(
    tmp_path: Path, n_runs: int, n_items: int, seed: int
) -> None:
    runs = _runs(tmp_path, n_runs, n_items, seed)
    result = _calibrate(*map(str, runs), "--metric", METRIC)
    assert result.exit_code == 0, result.output
    spec = tmp_path / "cal.yaml"
    spec.write_text(result.output, encoding="utf-8")
    (rule,) = load_spec(spec)
    assert rule.mode == "non_inferiority"
    # the old margin, z * sqrt(2) * sd of the point estimates, is below the interval bounds
    values = [_accuracy(r) for r in runs]
    noise = 1.959963984540054 * math.sqrt(2) * float(np.std(values, ddof=1))
    assert rule.margin > max(noise, max(values) - min(values))
    for base, current in itertools.permutations(runs, 2):
        assert _gate(current, spec, base) == 0, (base, current)
    # the margin is the smallest two-digit number above the largest bound: one step lower fails
    step = 10 ** (math.floor(math.log10(rule.margin)) - 1)
    lower = spec.read_text(encoding="utf-8").replace(
        f"margin: {rule.margin:g}", f"margin: {rule.margin - step:.6g}"
    )
    spec.write_text(lower, encoding="utf-8")
    assert any(_gate(c, spec, b) == 1 for b, c in itertools.permutations(runs, 2))
    assert "every ordered pair" in result.output


def _results(path: Path, metrics: dict[str, Any]) -> Path:
    path.mkdir(parents=True)
    doc = {"schema": "crma-eval/results/1", "metrics": metrics, "plugins": {}, "meta": {}}
    (path / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return path


DRIFT = 2.2810257868690615


@pytest.mark.parametrize(
    "values",
    [
        [0.1 + 0.2, 0.3, 0.7 - 0.4, 0.3],
        # 25 ulps apart at 2.28: R's t.test stderr < 10 eps |mean| calls this essentially constant
        [DRIFT, DRIFT + 25 * math.ulp(DRIFT), DRIFT],
    ],
)
def test_values_differing_by_rounding_noise_are_identical(
    tmp_path: Path, values: list[float]
) -> None:
    stderr = float(np.std(values, ddof=1)) / math.sqrt(len(values))
    assert 0 < stderr < 10 * np.finfo(float).eps * abs(float(np.mean(values)))
    runs = [_results(tmp_path / f"r{i}", {"qa.a.accuracy": v}) for i, v in enumerate(values)]
    result = _calibrate(*map(str, runs))
    assert result.exit_code == 0, result.output
    assert "qa.a.accuracy: identical in every run" in result.output
    assert "compare:" not in result.output
    doc = json.loads(_calibrate("--json", *map(str, runs)).output)
    assert doc["metrics"][0]["rule"] == "identical" and doc["metrics"][0]["margin"] == 0


def test_calibrate_globs_stay_within_a_segment(tmp_path: Path) -> None:
    metrics = {"qa.a.accuracy": 0.8, "qa.a.med.accuracy": 0.7}
    runs = [
        _results(tmp_path / f"r{i}", {k: v + 0.01 * i for k, v in metrics.items()})
        for i in range(3)
    ]
    one = json.loads(_calibrate("--json", "--metric", "qa.*.accuracy", *map(str, runs)).output)
    assert [m["metric"] for m in one["metrics"]] == ["qa.a.accuracy"]
    both = json.loads(_calibrate("--json", "--metric", "qa.**.accuracy", *map(str, runs)).output)
    assert [m["metric"] for m in both["metrics"]] == ["qa.a.accuracy", "qa.a.med.accuracy"]


def test_plan_globs_stay_within_a_segment() -> None:
    metrics = {
        "qa.a.accuracy": 0.8,
        "qa.a.n": 100,
        "qa.a.med.accuracy": 0.7,
        "qa.a.med.n": 50,
    }
    chosen = plan_from_metrics(metrics, Targets(), ("qa.*.accuracy",))
    assert [p.metric for p in chosen] == ["qa.a.accuracy"]
    chosen = plan_from_metrics(metrics, Targets(), ("qa.**.accuracy",))
    assert sorted(p.metric for p in chosen) == ["qa.a.accuracy", "qa.a.med.accuracy"]


def _refused(args: list[str], words: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.output


def test_options_that_would_be_ignored_are_refused(tmp_path: Path) -> None:
    a = _results(tmp_path / "a", {"qa.a.accuracy": 0.8, "qa.a.n": 100})
    b = _results(tmp_path / "b", {"qa.a.accuracy": 0.7, "qa.a.n": 100})
    spec = tmp_path / "g.yaml"
    spec.write_text("gates:\n  - metric: qa.a.accuracy\n    min: 0\n", encoding="utf-8")
    link = tmp_path / "a_link"
    link.symlink_to(a, target_is_directory=True)
    calibrate = ["gate", "--calibrate", str(a), str(b)]
    _refused([*calibrate, "--spec", str(spec)], "--spec is not used with it")
    _refused([*calibrate, "--baseline", str(a)], "--baseline is not used with it")
    _refused(["gate", "--calibrate", str(a), str(a)], "given twice")
    _refused(["gate", "--calibrate", str(a), str(b), str(link)], "given twice")
    _refused(["gate", str(b), "--spec", str(spec), "--metric", "qa.*"], "--calibrate option")
    _refused(["gate", str(b), "--spec", str(spec), "--alpha", "0.1"], "--calibrate option")
    _refused(["plan", str(a), "--drop", "0.05", "--accuracy", "0.5"], "--accuracy")
    _refused(["plan", str(a), "--sd", "0.5"], "--sd")
    _refused(["plan", "--accuracy", "0.5", "--metric", "qa.*"], "--metric")
    # what is used still runs
    assert CliRunner().invoke(cli, ["gate", str(b), "--spec", str(spec)]).exit_code == 0
    assert CliRunner().invoke(cli, ["plan", str(a), "--discordance", "0.2"]).exit_code == 0


def _bench_pilot(tmp_path: Path, base: list[int], after: list[int]) -> Path:
    records = [
        {"kind": "bench", "task": "arc", "arm": arm, "doc_id": i, "metric": "acc", "value": v}
        for arm, values in (("base", base), ("after", after))
        for i, v in enumerate(values)
    ]
    analyze_paths([write(tmp_path / "bench.jsonl", records)], tmp_path / "pilot")
    return tmp_path / "pilot"


def _connor(delta: float, psi: float, alpha: float = 0.05, power: float = 0.8) -> int:
    za, zb = stats.norm.isf(alpha / 2), stats.norm.isf(1 - power)
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2 - 1e-6)


def test_plan_covers_bench_scores_with_0_1_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base, after = ([int(v) for v in rng.random(60) < 0.6] for _ in range(2))
    pilot = _bench_pilot(tmp_path, base, after)
    result = CliRunner().invoke(cli, ["plan", str(pilot), "--metric", "bench.**", "--json"])
    assert result.exit_code == 0, result.output
    plans = {p["metric"]: p for p in json.loads(result.output)["plans"]}
    p = float(np.mean(after))
    assert plans["bench.arc.after.score"]["needed"]["items"] == _connor(0.05, 2 * p * (1 - p))
    discordant = sum(a != b for a, b in zip(base, after, strict=True)) / 60
    assert plans["bench.arc.after_vs_base"]["needed"]["items"] == _connor(0.05, discordant)


def test_drift_is_planned_once_per_pair_with_the_paired_test() -> None:
    a, b = [10.0, 12.5, 9.0, 11.0], [8.0, 9.0, 8.5, 7.0]
    metrics: dict[str, Any] = {}
    for cond, values in (("x", a), ("y", b)):
        metrics[f"drift.{cond}.drift.std"] = float(np.std(values, ddof=1))
        metrics[f"drift.{cond}.drift.n"] = 4
        metrics |= {f"drift.{cond}.seed_{i}.drift": v for i, v in enumerate(values)}
    for pair in ("x_vs_y", "y_vs_x"):
        metrics[f"drift.{pair}.mde"] = 1.0
        metrics[f"drift.{pair}.paired.n"] = 4
    (plan,) = plan_from_metrics(metrics, Targets(drift_diff=1.0))
    sd = float(np.std(np.subtract(a, b), ddof=1))
    n = TTestPower().solve_power(effect_size=1.0 / sd, alpha=0.05, power=0.8)
    assert plan.needed["seeds"] == math.ceil(n) and plan.assumptions["sd"] == pytest.approx(sd)
    assert "paired" in plan.design
