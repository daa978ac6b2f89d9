"""`crma-eval run` end to end on a tiny model: collect, analyze, report; resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tinymodel as tm
import yaml

from crma_eval.config import DataConfig

QUESTIONS = {"medical": ["what treats high blood sugar ?"], "legal": ["who reads the verdict ?"]}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tm.world()
    root = tmp_path_factory.mktemp("runcfg")
    suite = [("the judge reads", "in_domain", "legal"), ("yes no 42", "ood", None)]
    data = DataConfig(**tm.write_data(root, QUESTIONS, suite))
    cfg = {
        "name": "tiny",
        "checkpoints": [str(p) for p in world.checkpoints.values()],
        "plugins": ["drift", "qa", "ablation", "router", "spectral"],
        "engine": {"batch_size": 4, "max_length": 64},
        "generation": {"max_new_tokens": 4, "stop": ["?"]},
        "data": data.model_dump(mode="json"),
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def crma_eval(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "crma_eval", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


@pytest.fixture(scope="module")
def whole(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    code, err = finish(crma_eval("run", str(config), "--out", str(out), "--quiet"))
    assert code == 0, err
    assert err == "", "--quiet must print nothing on stderr"
    return out


def test_run_collects_analyzes_and_reports(whole: Path) -> None:
    results = json.loads((whole / "results.json").read_text())
    metrics = results["metrics"]
    for name in (
        "drift.modular.drift.mean",
        "drift.naive.holdout.mean",
        "qa.with_crma.accuracy",
        "ablation.with_crma_vs_without_crma.pvalue",
        "router.overall.accuracy",
        "spectral.all.max_dev",
    ):
        assert name in metrics, name
    assert metrics["spectral.all.max_dev"] < 1e-6
    assert results["meta"]["config_hash"]
    assert (whole / "report.html").stat().st_size > 1000
    assert json.loads((whole / "run.json").read_text())["checkpoints"]


def _ledger_units(run: Path) -> list[str]:
    lines = (run / "ledger.jsonl").read_text().splitlines()
    return [json.loads(line)["unit"] for line in lines if line.strip()]


def test_kill_9_then_resume_equals_uninterrupted_run(
    config: Path, whole: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    proc = crma_eval("run", str(config), "--out", str(out), "--quiet")
    deadline = time.monotonic() + 300
    ledger = out / "ledger.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists() and ledger.read_text().count("\n") >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = _ledger_units(out)
    assert done_before and not (out / "results.json").exists()
    code, err = finish(crma_eval("run", str(config), "--out", str(out), "--quiet"))
    assert code == 0, err
    units = _ledger_units(out)
    assert len(units) == len(set(units)) == len(_ledger_units(whole))  # nothing redone
    assert units[: len(done_before)] == done_before
    ours = json.loads((out / "results.json").read_text())["metrics"]
    theirs = json.loads((whole / "results.json").read_text())["metrics"]
    assert ours == theirs
    for path in sorted((whole / "records").glob("*.jsonl")):
        assert (out / "records" / path.name).read_bytes() == path.read_bytes()


def test_resume_refuses_a_run_dir_from_other_inputs(
    config: Path, whole: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "changed.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["generation"]["max_new_tokens"] = 5
    changed.write_text(yaml.safe_dump(cfg))
    code, err = finish(crma_eval("run", str(changed), "--out", str(whole), "--quiet"))
    assert code == 2
    assert "different inputs" in err and "config_hash" in err


def test_bad_config_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nengine:\n  batch_size: 0\n")
    code, err = finish(crma_eval("run", str(path), "--out", str(tmp_path / "o")))
    assert code == 2
    assert f"{path}:3: field 'engine.batch_size'" in err
    assert "Traceback" not in err
