"""`crma-eval plan` labels: the ICC source says when none was given, the discordance shown is the
ψ used, a pilot accuracy of 100 % takes a conservative ψ (rule of three), said so. Item counts
from Connor's (1987) closed form, computed here with scipy's normal quantiles."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scipy.stats import norm

from crma_eval.analyze import analyze_paths
from crma_eval.cli import cli
from tests.recordgen import qa_arm, write


def _connor(delta: float, psi: float, alpha: float = 0.05, power: float = 0.8) -> int:
    z_a, z_b = norm.ppf(1 - alpha / 2), norm.ppf(power)
    return math.ceil(((z_a * math.sqrt(psi) + z_b * math.sqrt(psi - delta**2)) / delta) ** 2)


def _plan(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["plan", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_icc_source_says_when_no_icc_was_given() -> None:
    (plan,) = _plan("--accuracy", "0.8")["plans"]
    assert "stated" not in plan["assumptions"]["icc_source"]
    assert "no --icc given" in plan["assumptions"]["icc_source"]
    (stated,) = _plan("--accuracy", "0.8", "--icc", "0.1")["plans"]
    assert stated["assumptions"]["icc_source"].startswith("stated")


@pytest.mark.parametrize(("given", "drop"), [(0.01, 0.05), (0.02, 0.1)])
def test_the_discordance_shown_is_the_one_used(given: float, drop: float) -> None:
    (plan,) = _plan("--discordance", str(given), "--drop", str(drop))["plans"]
    assert plan["assumptions"]["discordance"] == drop  # ψ = max(discordance, drop)
    assert "raised to the drop" in plan["assumptions"]["discordance_source"]
    assert plan["needed"]["items"] == _connor(drop, drop)


def test_a_perfect_pilot_accuracy_takes_a_conservative_discordance(tmp_path: Path) -> None:
    n = 60
    records = qa_arm("with_crma", "med", [True] * n)
    analyze_paths([write(tmp_path / "qa.jsonl", records)], tmp_path / "pilot")
    doc = _plan(str(tmp_path / "pilot"), "--metric", "qa.with_crma.accuracy")
    (plan,) = doc["plans"]
    p = 1 - 3 / n  # rule of three: 95% upper bound of an error rate observed as 0 of n
    psi = 2 * p * (1 - p)
    assert plan["assumptions"]["discordance"] == pytest.approx(psi) and psi > 0.05
    assert "rule-of-three" in plan["assumptions"]["discordance_source"]
    assert plan["needed"]["items"] == _connor(0.05, psi)


def test_a_pilot_without_discordant_items_takes_the_rule_of_three(tmp_path: Path) -> None:
    n = 50
    records = qa_arm("x", "med", [True] * n) + qa_arm("y", "med", [True] * n)
    analyze_paths([write(tmp_path / "qa.jsonl", records)], tmp_path / "pilot")
    (plan,) = _plan(str(tmp_path / "pilot"), "--metric", "ablation.x_vs_y")["plans"]
    psi = 3 / n  # no discordant item of n: ψ at its rule-of-three bound, then at least the drop
    assert plan["assumptions"]["discordance"] == pytest.approx(max(psi, 0.05))
    assert "rule-of-three" in plan["assumptions"]["discordance_source"]
    assert plan["needed"]["items"] == _connor(0.05, max(psi, 0.05))


def test_a_pilot_with_every_item_discordant_keeps_psi_one(tmp_path: Path) -> None:
    n = 40
    records = qa_arm("x", "med", [True] * n) + qa_arm("y", "med", [False] * n)
    analyze_paths([write(tmp_path / "qa.jsonl", records)], tmp_path / "pilot")
    (plan,) = _plan(str(tmp_path / "pilot"), "--metric", "ablation.x_vs_y")["plans"]
    assert plan["assumptions"]["discordance"] == 1.0  # the most conservative ψ, never lowered
    assert plan["needed"]["items"] == _connor(0.05, 1.0)
