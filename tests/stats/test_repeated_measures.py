"""Issue 8 end to end: repeated items, conditions, pairing, skipped plugins, gate --baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from recordgen import frames, qa, write
from statsmodels.stats.proportion import proportion_confint

from crma_eval.analyze import analyze_frames, analyze_paths
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.gate import run_gate
from crma_eval.plugins.ablation import AblationPlugin
from crma_eval.plugins.qa import QAPlugin

OPTIONS = AnalyzeOptions()
SEEDS = (0, 1, 2)
# Issue 8: 20 items x 3 seeds, correctness depends only on the item. Arm "new" is right on 14
# items; arm "old" on 9 of them plus one "new" gets wrong: b = 6 items, c = 1 item.
NEW = [True] * 14 + [False] * 6
OLD = [True] * 8 + [False] * 6 + [True] + [False] * 5


def _seeded(arm: str, outcomes: list[bool], **extra: Any) -> list[dict[str, Any]]:
    return [
        qa(arm, "botany", f"i{i}", c, seed=seed, **extra)
        for seed in SEEDS
        for i, c in enumerate(outcomes)
    ]


def test_repeated_items_get_a_clustered_interval_and_per_seed_rows(tmp_path: Path) -> None:
    result = QAPlugin().analyze(frames(tmp_path, _seeded("new", NEW)), OPTIONS)
    m = result.metrics
    assert (m["qa.new.accuracy"], m["qa.new.n_items"], m["qa.new.n_observations"]) == (0.7, 20, 60)
    y = np.tile(np.array(NEW, float), 3)
    groups = np.tile(np.arange(20), 3)
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    z = 1.959963984540054  # normal 97.5% quantile
    cr1_low, cr1_high = 0.7 - z * fit.bse[0], 0.7 + z * fit.bse[0]
    naive = proportion_confint(42, 60, alpha=0.05, method="wilson")
    assert m["qa.new.ci_low"] < naive[0] and m["qa.new.ci_high"] > naive[1]
    # At least as wide as the item-clustered (CR1) interval, about [0.49, 0.91] in the issue.
    assert m["qa.new.ci_low"] <= cr1_low + 1e-12 and m["qa.new.ci_high"] >= cr1_high - 1e-12
    assert m["qa.new.ci_low"] >= 0.0 and m["qa.new.ci_high"] <= 1.0
    assert m["qa.new.n_effective"] <= 20
    for seed in SEEDS:  # per seed: 20 independent items, plain Wilson
        low, high = proportion_confint(14, 20, alpha=0.05, method="wilson")
        assert m[f"qa.new.botany.seed_{seed}.accuracy"] == 0.7
        assert m[f"qa.new.botany.seed_{seed}.ci_low"] == pytest.approx(low)
        assert m[f"qa.new.botany.seed_{seed}.ci_high"] == pytest.approx(high)
    assert m["qa.new.botany.seeds.mean"] == pytest.approx(0.7)
    assert m["qa.new.botany.seeds.std"] == pytest.approx(0.0, abs=1e-12)
    assert result.methods["ci_repeated"] == "clustered-cr1"


def test_conditions_are_never_pooled(tmp_path: Path) -> None:
    records = [
        *[
            qa("oracle", "botany", f"i{i}", i < 6, condition="naive", checkpoint="n")
            for i in range(6)
        ],
        *[
            qa("oracle", "botany", f"i{i}", i < 2, condition="frozen", checkpoint="f")
            for i in range(6)
        ],
    ]
    result = QAPlugin().analyze(frames(tmp_path, records), OPTIONS)
    m = result.metrics
    assert m["qa.oracle.naive.botany.accuracy"] == 1.0 and m["qa.oracle.naive.n"] == 6
    assert m["qa.oracle.frozen.botany.accuracy"] == pytest.approx(2 / 6)
    assert "qa.oracle.accuracy" not in m and "qa.oracle.botany.accuracy" not in m


def test_ablation_tests_repeated_items_at_the_item_level(tmp_path: Path) -> None:
    records = [*_seeded("new", NEW), *_seeded("old", OLD)]
    result = AblationPlugin().analyze(frames(tmp_path, records), OPTIONS)
    m = result.metrics
    prefix = "ablation.new_vs_old."
    # Pooled McNemar would say b = 18, c = 3, p = 0.0015; the item level says b = 6, c = 1.
    assert (m[prefix + "b"], m[prefix + "c"]) == (6, 1)
    assert m[prefix + "pvalue"] == pytest.approx(0.125)
    assert (m[prefix + "n_items"], m[prefix + "n_observations"]) == (20, 60)
    assert m[prefix + "botany.pvalue_bh"] == pytest.approx(0.125)
    assert "sign-flip" in result.methods["test"]


def test_arms_with_different_checkpoint_ids_are_paired(tmp_path: Path) -> None:
    records = [
        *[qa("a", "d", f"i{i}", True, seed=0, checkpoint="ck-a") for i in range(8)],
        *[qa("b", "d", f"i{i}", i < 2, seed=0, checkpoint="ck-b") for i in range(8)],
    ]
    result = AblationPlugin().analyze(frames(tmp_path, records), OPTIONS)
    assert result.skipped is None
    assert (result.metrics["ablation.a_vs_b.b"], result.metrics["ablation.a_vs_b.c"]) == (6, 0)
    assert "different checkpoint" in result.details["pairs"][0]["pairing"]


def test_ambiguous_pairing_is_an_input_error(tmp_path: Path) -> None:
    # Arm a answers item i0 under two checkpoints, arm b under another id: cannot tell which.
    records = [
        qa("a", "d", "i0", True, checkpoint="x1"),
        qa("a", "d", "i0", False, checkpoint="x2"),
        qa("b", "d", "i0", True, checkpoint="y1"),
    ]
    with pytest.raises(InputError, match="ambiguous"):
        AblationPlugin().analyze(frames(tmp_path, records), OPTIONS)


def test_skipped_plugin_says_why_in_results(tmp_path: Path, capsys: Any) -> None:
    loaded = frames(tmp_path, [qa("only", "d", "i0", True)])
    doc = analyze_frames(loaded, OPTIONS, {"ablation": AblationPlugin()})
    assert "no two qa arms" in doc["plugins"]["ablation"]["skipped"]
    assert "ablation: skipped" in capsys.readouterr().err


def _run(path: Path, records: list[dict[str, Any]]) -> Path:
    records_file = write(tmp := path.with_suffix(".jsonl"), records)
    analyze_paths([records_file], path)
    tmp.unlink()
    return path


def test_gate_baseline_tests_repeated_items_at_item_level(tmp_path: Path) -> None:
    baseline = _run(tmp_path / "base", _seeded("arm", NEW, checkpoint="run1"))
    current = _run(tmp_path / "cur", _seeded("arm", OLD, checkpoint="run2"))
    spec = tmp_path / "gates.yaml"
    spec.write_text("gates:\n  - name: g\n    compare: qa.arm.accuracy\n    max_drop: 0.01\n")
    (outcome,) = run_gate(current, spec, baseline).outcomes
    assert "p = 0.125" in outcome.detail and "item-level" in outcome.detail
    assert outcome.passed  # not significant at the item level
    results = json.loads((current / "results.json").read_text())
    assert results["metrics"]["qa.arm.n_items"] == 20
