"""`crma-eval export`: each target read back with its own library (huggingface_hub for hf)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from crma_eval.atomicio import write_jsonl
from crma_eval.cli import cli

QA = [
    {"kind": "qa", "arm": arm, "domain": dom, "item_id": f"{dom}-{i}", "correct": (i + k) % 3 != 0}
    for k, arm in enumerate(("with_crma", "without_crma"))
    for dom in ("med", "law")
    for i in range(12)
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    records = write_jsonl(root / "qa.jsonl", QA)
    out = root / "run"
    result = CliRunner().invoke(cli, ["analyze", str(records), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    return out


def test_hf_export_reads_back_as_model_index_with_intervals_and_n(run_dir, tmp_path) -> None:
    from huggingface_hub import ModelCard

    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "hf", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "results.json").read_text())["metrics"]
    card = ModelCard.load(tmp_path / "README.md")
    found = {r.metric_name: r for r in card.data.eval_results}
    acc = found["qa.with_crma.med.accuracy"]
    assert acc.metric_value == pytest.approx(metrics["qa.with_crma.med.accuracy"])
    assert acc.metric_args["ci_low"] == pytest.approx(metrics["qa.with_crma.med.ci_low"])
    assert acc.metric_args["ci_high"] == pytest.approx(metrics["qa.with_crma.med.ci_high"])
    assert acc.metric_args["n"] == metrics["qa.with_crma.med.n"] == 12
    assert "wilson" in acc.metric_args["method"]
    diff = found["ablation.with_crma_vs_without_crma.diff"]
    stem = "ablation.with_crma_vs_without_crma"
    assert diff.metric_args["ci_low"] == pytest.approx(metrics[f"{stem}.diff_ci_low"])
    assert not any(name.endswith(("ci_low", "ci_high")) for name in found)  # folded in
    plain = yaml.safe_load(next((tmp_path / ".eval_results").glob("*.yaml")).read_text())
    assert {row["metric"] for row in plain} == set(found)


def test_export_of_a_missing_run_is_bad_input(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "nope"), "--to", "hf", "--out", "x"])
    assert result.exit_code == 2 and "not found" in result.output
