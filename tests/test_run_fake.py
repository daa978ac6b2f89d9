"""`crma-eval run` end to end on the fake engine (no torch, no model): collect, analyze, report,
resume and recompute-only-what-changed. The real-model twins are in test_run.py (slow)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fakeworld import fake_run_config

from crma_eval.cli import cli


def _run(config: Path, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["run", str(config), "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _ledger(run: Path) -> dict[str, str]:
    """Unit -> its whole ledger line (fingerprint, offsets, hashes, time)."""
    lines = (run / "ledger.jsonl").read_text().splitlines()
    return {json.loads(line)["unit"]: line for line in lines}


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fakerun")
    config = fake_run_config(root, ["drift", "qa", "ablation", "router"])
    out = root / "out"
    _run(config, out)
    return config, out


def test_fake_run_collects_analyzes_and_reports_without_torch(whole: tuple[Path, Path]) -> None:
    _, out = whole
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    for name in (
        "drift.modular.drift.mean",
        "qa.oracle.modular.accuracy",
        "ablation.oracle_vs_routed.modular.pvalue",
        "router.overall.accuracy",
    ):
        assert name in metrics, name
    assert (out / "report.html").stat().st_size > 1000
    qa = [json.loads(line) for line in (out / "records" / "qa.jsonl").read_text().splitlines()]
    assert qa and all(r["prediction"].startswith("answer ") for r in qa)  # FakeSession's answers
    assert json.loads((out / "run.json").read_text())["checkpoints"] and len(_ledger(out)) > 10


def test_resume_recomputes_nothing_and_a_change_recomputes_its_units(
    whole: tuple[Path, Path], tmp_path: Path
) -> None:
    config, done = whole
    out = Path(shutil.copytree(done, tmp_path / "copy"))
    before = _ledger(out)
    records = {p.name: p.read_bytes() for p in (out / "records").glob("*.jsonl")}
    _run(config, out, "--no-report")
    assert _ledger(out) == before  # every unit kept
    assert {p.name: p.read_bytes() for p in (out / "records").glob("*.jsonl")} == records
    cfg = yaml.safe_load(config.read_text())
    cfg["generation"]["max_new_tokens"] = 5
    changed = config.parent / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    _run(changed, out, "--no-report")
    after = _ledger(out)
    redone = {k for k in before if after[k] != before[k]}
    assert redone == {k for k in before if k.startswith("qa|")} and redone


def test_no_report_writes_results_only(tmp_path: Path) -> None:
    config = fake_run_config(tmp_path, ["qa"])
    said = _run(config, tmp_path / "out", "--no-report")
    assert (tmp_path / "out" / "results.json").is_file()
    assert not (tmp_path / "out" / "report.html").exists() and "report:" not in said


def test_unknown_engine_session_is_bad_input_naming_the_config(
    whole: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = whole
    cfg = yaml.safe_load(config.read_text())
    cfg["engine"]["session"] = "no_such_engine"
    bad = config.parent / "bad-engine.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(cli, ["run", str(bad), "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 2
    assert str(bad) in result.output and "no_such_engine" in result.output
    assert "Traceback" not in result.output


def test_the_default_session_leaves_config_hash_and_fingerprints_as_they_were() -> None:
    from crma_eval.config import EngineConfig, RunConfig

    default, explicit = RunConfig(), RunConfig(engine=EngineConfig(session="transformers"))
    fake = RunConfig(engine=EngineConfig(session="fake"))
    before = default.model_dump(mode="json")
    before["engine"] = {k: v for k, v in before["engine"].items() if k != "session"}
    # the hash as computed before `engine.session` existed
    text = json.dumps(before, sort_keys=True)
    assert default.config_hash() == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert explicit.config_hash() == default.config_hash() != fake.config_hash()
    assert "session" not in default.engine.identity()
    assert fake.engine.identity()["session"] == "fake"


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("entry", "value", "problem"),
    [
        (("holdout", "legal"), "misspelt.jsonl", "file not found"),
        (("router_suite",), "misspelt.jsonl", "file not found"),
        (("router_suite",), "", "not a file"),  # the config's own folder
        (("qa", "legal"), ".", "not a file"),
        (("qa", "legal"), "empty.jsonl", "empty file"),
        (("holdout", "legal"), "blank.jsonl", "empty file"),  # blank lines only
    ],
)
def test_a_data_path_that_is_no_data_file_is_refused_before_the_run_folder_is_touched(
    whole: tuple[Path, Path], tmp_path: Path, entry: tuple[str, ...], value: str, problem: str
) -> None:
    config, done = whole
    out = Path(shutil.copytree(done, tmp_path / "copy"))
    (out / "gate.json").write_text("{}")  # an output derived from the current results
    before = _snapshot(out)
    cfg = yaml.safe_load(config.read_text())
    parent = cfg["data"]
    for key in entry[:-1]:
        parent = parent[key]
    parent[entry[-1]] = value
    (config.parent / "empty.jsonl").write_text("")
    (config.parent / "blank.jsonl").write_text("\n  \n\t\n")
    typo = config.parent / "typo.yaml"
    typo.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(cli, ["run", str(typo), "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0] and str(typo) in lines[0]
    assert "data." + ".".join(entry) in lines[0]
    assert _snapshot(out) == before  # committed units, results, report and gate.json all kept
