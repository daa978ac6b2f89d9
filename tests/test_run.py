"""`crma-eval run` end to end on a tiny model: collect, analyze, report; resume after kill -9."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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


def crma_eval(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "crma_eval", *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )


def finish3(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    code, _, err = finish3(proc)
    return code, err


@pytest.fixture(scope="module")
def whole(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    code, err = finish(crma_eval("run", str(config), "--out", str(out), "--quiet"))
    assert code == 0, err
    assert err == "", "--quiet must print nothing on stderr"
    return out


@pytest.mark.slow
def test_run_collects_analyzes_and_reports(whole: Path) -> None:
    results = json.loads((whole / "results.json").read_text())
    metrics = results["metrics"]
    for name in (
        "drift.modular.drift.mean",
        "drift.naive.holdout.mean",
        "qa.with_crma.*.accuracy",  # per training condition: the run has several
        "ablation.with_crma_vs_without_crma.*.pvalue",
        "router.overall.accuracy",
        "spectral.all.max_dev",
    ):
        assert fnmatch.filter(metrics, name), name
    assert metrics["spectral.all.max_dev"] < 1e-6
    assert results["meta"]["config_hash"]
    assert (whole / "report.html").stat().st_size > 1000
    assert json.loads((whole / "run.json").read_text())["checkpoints"]
    assert (whole / "logs" / "collect.log").exists()


def _ledger_units(run: Path) -> list[str]:
    lines = (run / "ledger.jsonl").read_text().splitlines()
    return [json.loads(line)["unit"] for line in lines if line.strip()]


@pytest.mark.slow
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


def _ledger(run: Path) -> dict[str, str]:
    """Unit -> its whole ledger line (fingerprint, offsets, hashes, time)."""
    lines = (run / "ledger.jsonl").read_text().splitlines()
    return {json.loads(line)["unit"]: line for line in lines}


def _variant(config: Path, name: str, change: Callable[[dict], None]) -> Path:
    cfg = yaml.safe_load(config.read_text())
    change(cfg)
    path = config.parent / name  # same folder: relative data paths keep their meaning
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_config_additions_resume_and_changes_recompute_only_their_units(
    config: Path, whole: Path, tmp_path: Path
) -> None:
    out = Path(shutil.copytree(whole, tmp_path / "copy"))  # a copy with its ledger resumes
    before = _ledger(out)
    added = _variant(
        config,
        "added.yaml",
        lambda c: c.setdefault("arms", []).extend(
            [
                {"name": "with_crma"},
                {"name": "without_crma", "crma": False},
                {"name": "routed", "adapter": "router"},
            ]
        ),
    )
    # run from another working directory with a relative config path: same fingerprints
    code, out_text, err = finish3(
        crma_eval("run", added.name, "--out", str(out), "--quiet", cwd=config.parent)
    )
    assert code == 0, err
    after = _ledger(out)
    assert {k: after[k] for k in before} == before  # nothing redone
    assert sorted(set(after) - set(before)) and all(
        "|routed|" in k for k in set(after) - set(before)
    )
    assert re.search(r"^qa\.routed(\.\w+)?\.accuracy ", out_text, re.M)  # the metric summary
    changed = _variant(added, "changed.yaml", lambda c: c["generation"].update(max_new_tokens=5))
    code, _, err = finish3(crma_eval("run", str(changed), "--out", str(out), "--quiet"))
    assert code == 0, err
    final = _ledger(out)
    redone = {k for k in after if final[k] != after[k]}
    assert redone == {k for k in after if k.startswith("qa|")}
    units = [json.loads(line)["unit"] for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert len(units) == len(set(units)) == len(after)
    n_qa = sum(1 for _ in (out / "records" / "qa.jsonl").open())
    assert n_qa == sum(json.loads(final[k])["n_records"] for k in redone)


@pytest.mark.slow
def test_partial_failure_gives_results_for_the_rest(config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "the judge reads"}\n{"text": \n')
    bad = _variant(
        config, "bad-holdout.yaml", lambda c: c["data"]["holdout"].update(legal=str(broken))
    )
    out = tmp_path / "partial"
    for _ in range(2):  # and again on resume
        code, out_text, err = finish3(
            crma_eval("run", str(bad), "--out", str(out), "--quiet", "--limit", "1")
        )
        assert code == 2, err
        lines = err.splitlines()
        fails = [line for line in lines if f"{broken}:2" in line]
        assert fails and all(line.startswith("crma-eval: error: collect drift|") for line in fails)
        assert "Traceback" not in err
        results = json.loads((out / "results.json").read_text())
        assert fnmatch.filter(results["metrics"], "qa.with_crma.*.accuracy")
        failed = {f["unit"] for f in results["meta"]["failures"] if f["unit"]}
        prefix = "crma-eval: error: collect "
        assert failed == {line.removeprefix(prefix).split(": ", 1)[0] for line in fails}
        assert failed and all("|legal" in unit for unit in failed)
        assert results["meta"]["name"] == "tiny"
        assert f"results: {out / 'results.json'}" in out_text
        assert (out / "report.html").exists()
    qa = [json.loads(x) for x in (out / "records" / "qa.jsonl").read_text().splitlines()]
    per_unit = {(r["checkpoint"], r["arm"], r["domain"]) for r in qa}
    assert len(qa) == len(per_unit)  # --limit 1: one item per domain and unit


@pytest.mark.slow
def test_run_refuses_a_folder_it_did_not_create(whole: Path, config: Path, tmp_path: Path) -> None:
    out = tmp_path / "analysed"
    records = [str(p) for p in sorted((whole / "records").glob("*.jsonl"))]
    assert finish3(crma_eval("analyze", *records, "--out", str(out), "--no-report"))[0] == 0
    before = {p.name: p.read_bytes() for p in (out / "records").iterdir()}
    code, out_text, err = finish3(crma_eval("run", str(config), "--out", str(out), "--quiet"))
    assert code == 2 and "no ledger" in err and len(err.splitlines()) == 1
    assert "results:" not in out_text
    assert {p.name: p.read_bytes() for p in (out / "records").iterdir()} == before


@pytest.mark.slow
def test_second_run_on_the_same_out_is_refused(config: Path, tmp_path: Path) -> None:
    from crma_eval.store import RunDir

    with RunDir(tmp_path / "busy").locked():
        code, _, err = finish3(
            crma_eval("run", str(config), "--out", str(tmp_path / "busy"), "--quiet")
        )
    assert code == 2 and f"in use by PID {os.getpid()}" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plugins", "message"),
    [(["ablation"], "nothing to collect"), (["drift", "nope"], "unknown plugin 'nope'")],
)
def test_no_units_or_unknown_plugin_exit_2_without_result_paths(
    config: Path, tmp_path: Path, plugins: list[str], message: str
) -> None:
    path = _variant(config, f"plugins-{len(plugins)}.yaml", lambda c: c.update(plugins=plugins))
    code, out_text, err = finish3(crma_eval("run", str(path), "--out", str(tmp_path / "o")))
    assert code == 2 and message in err and "results:" not in out_text
    if "nope" in plugins:
        line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "nope" in t)
        assert f"{path}:{line}: field 'plugins.1'" in err


def test_bad_config_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nengine:\n  batch_size: 0\n")
    code, err = finish(crma_eval("run", str(path), "--out", str(tmp_path / "o")))
    assert code == 2
    assert f"{path}:3: field 'engine.batch_size'" in err
    assert "Traceback" not in err
