"""`crma-eval plan` and `gate --calibrate`: sizes against closed forms, statsmodels, simulation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats
from statsmodels.stats.power import TTestIndPower

from crma_eval.cli import cli
from crma_eval.gate import load_spec
from crma_eval.plan.calibrate import round_up
from crma_eval.plan.planner import Targets, plan_from_metrics, plan_stated


def connor_pairs(delta: float, psi: float, alpha: float = 0.05, power: float = 0.8) -> int:
    za, zb = stats.norm.isf(alpha / 2), stats.norm.isf(1 - power)
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2 - 1e-6)


def write_results(path: Path, metrics: dict[str, Any]) -> Path:
    path.mkdir(parents=True)
    doc = {"schema": "crma-eval/results/1", "metrics": metrics, "plugins": {}, "meta": {}}
    (path / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_stated_binary_plan_inflates_by_the_design_effect() -> None:
    (plan,) = plan_stated(Targets(drop=0.04), None, 0.15, icc=0.2, repeats=3, sd=None)
    pairs = connor_pairs(0.04, 0.15)
    assert plan.needed == {"items": math.ceil(pairs * (1 + 2 * 0.2) / 3 - 1e-9), "repeats": 3}
    assert plan.by_repeats["1"] == pairs
    assert plan.by_repeats["10"] == math.ceil(pairs * (1 + 9 * 0.2) / 10 - 1e-9)


def test_stated_seeds_plan_matches_statsmodels_and_the_permutation_floor() -> None:
    (plan,) = plan_stated(Targets(drift_diff=0.5), None, None, 0.0, 1, sd=0.5)
    by_t = math.ceil(TTestIndPower().solve_power(effect_size=1.0, alpha=0.05, power=0.8))
    # smallest n with 2 / C(2n, n) < 0.05 is 4 (2/70); t needs 17 for d = 1
    assert plan.needed["seeds"] == max(by_t, 4) == 17
    (wide,) = plan_stated(Targets(drift_diff=5.0), None, None, 0.0, 1, sd=0.5)
    assert wide.needed["seeds"] == 4  # the t test alone would need 2 or 3


def test_pilot_plans_use_measured_discordance_and_design_effect() -> None:
    metrics = {
        "qa.a.accuracy": 0.8,
        "qa.a.n": 600,
        "qa.a.n_items": 200,
        "qa.a.n_observations": 600,
        "qa.a.design_effect": 1.5,
        "ablation.a_vs_b.n": 400,
        "ablation.a_vs_b.b": 30,
        "ablation.a_vs_b.c": 10,
        "drift.x.drift.std": 0.4,
        "drift.x.drift.n": 3,
        "drift.y.drift.std": 0.6,
        "drift.y.drift.n": 3,
        "drift.x_vs_y.mde": 1.0,
    }
    plans = {p.metric: p for p in plan_from_metrics(metrics, Targets(drop=0.05, drift_diff=1.0))}
    qa = plans["qa.a.accuracy"]
    assert qa.assumptions["icc"] == pytest.approx(0.25)  # (1.5 - 1) / (3 - 1)
    assert qa.assumptions["discordance"] == pytest.approx(2 * 0.8 * 0.2)
    assert qa.needed["items"] == math.ceil(connor_pairs(0.05, 0.32) * 1.5 / 3 - 1e-9)
    ablation = plans["ablation.a_vs_b"]
    assert ablation.assumptions["discordance"] == pytest.approx(0.1)
    assert ablation.needed["items"] == connor_pairs(0.05, 0.1)
    drift = plans["drift.x_vs_y"]
    sd = math.sqrt((0.4**2 + 0.6**2) / 2)
    assert drift.assumptions["sd"] == pytest.approx(sd)
    expected = math.ceil(TTestIndPower().solve_power(effect_size=1.0 / sd, alpha=0.05, power=0.8))
    assert drift.needed["seeds"] == max(expected, 4)
    only = plan_from_metrics(metrics, Targets(), patterns=("drift.*",))
    assert [p.metric for p in only] == ["drift.x_vs_y"]


def test_planned_items_reach_the_power_in_simulation() -> None:
    """McNemar's exact test at the planned number of pairs, seeded simulation."""
    (plan,) = plan_stated(Targets(drop=0.06), None, 0.2, icc=0.0, repeats=1, sd=None)
    n, psi, delta = plan.needed["items"], 0.2, 0.06
    rng = np.random.default_rng(2024)
    counts = rng.multinomial(n, [(psi + delta) / 2, (psi - delta) / 2, 1 - psi], size=4000)
    b, c = counts[:, 0], counts[:, 1]
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), b + c, 0.5))
    assert float(np.mean(p < 0.05)) == pytest.approx(0.8, abs=0.04)


def test_plan_cli_json_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", "--discordance", "0.1", "--drop", "0.03", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["plans"][0]["needed"]["items"] == connor_pairs(0.03, 0.1)
    assert runner.invoke(cli, ["plan"]).exit_code == 2
    empty = write_results(tmp_path / "empty", {"spectral.all.max_dev": 0.0})
    assert runner.invoke(cli, ["plan", str(empty)]).exit_code == 2
    assert runner.invoke(cli, ["plan", str(tmp_path / "nope")]).exit_code == 2


def test_calibrate_proposes_margins_from_the_spread(tmp_path: Path) -> None:
    values = [0.80, 0.82, 0.79, 0.81]
    runs = [
        write_results(tmp_path / f"r{i}", {"qa.a.accuracy": v, "qa.a.n": 100, "qa.b.accuracy": 0.5})
        for i, v in enumerate(values)
    ]
    result = CliRunner().invoke(cli, ["gate", "--calibrate", *map(str, runs)])
    assert result.exit_code == 0, result.output
    spec = tmp_path / "gates.yaml"
    spec.write_text(result.output, encoding="utf-8")
    (rule,) = load_spec(spec)  # qa.b.accuracy has no spread: commented out
    noise = 1.959963984540054 * math.sqrt(2) * float(np.std(values, ddof=1))
    assert rule.mode == "non_inferiority" and rule.pattern == "qa.a.accuracy"
    assert noise > 0.03 and rule.margin == round_up(noise) == pytest.approx(0.036)
    assert "qa.b.accuracy: identical" in result.output
    as_json = CliRunner().invoke(cli, ["gate", "--calibrate", "--json", *map(str, runs)])
    doc = json.loads(as_json.output)
    assert doc["metrics"][0]["sd"] == pytest.approx(np.std(values, ddof=1))


def test_calibrate_needs_two_runs_and_gate_needs_a_spec(tmp_path: Path) -> None:
    run = write_results(tmp_path / "r", {"qa.a.accuracy": 0.8})
    runner = CliRunner()
    assert runner.invoke(cli, ["gate", "--calibrate", str(run)]).exit_code == 2
    assert runner.invoke(cli, ["gate", str(run)]).exit_code == 2


def test_round_up() -> None:
    assert round_up(0.0312) == 0.032 and round_up(0.03) == 0.03 and round_up(0.0) == 0.0
    assert round_up(12.01) == 13
