"""The command line: verbs, exit codes (0/1/2/3), one-line errors, nothing lost on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cliedge import crma_eval

from crma_eval.atomicio import write_jsonl
from crma_eval.cli import cli

QA = [
    {"kind": "qa", "arm": arm, "domain": dom, "item_id": f"{dom}-{i}", "correct": (i + k) % 3 != 0}
    for k, arm in enumerate(("with_crma", "without_crma"))
    for dom in ("med", "law")
    for i in range(12)
]


def test_plugins_lists_the_builtin_plugins_from_entry_points() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.output)}
    assert {"qa", "ablation", "drift", "router", "spectral", "bench"} <= names


def test_analyze_writes_results_and_report(tmp_path: Path) -> None:
    records = write_jsonl(tmp_path / "qa.jsonl", QA)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["analyze", str(records), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    k = sum(r["correct"] for r in QA if r["arm"] == "with_crma")
    assert metrics["qa.with_crma.k"] == k and metrics["qa.with_crma.n"] == 24
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == "crma-eval/results/1"
    assert results["meta"]["versions"]["crma_eval"]
    assert results["meta"]["inputs"][0]["sha256"]
    assert (out / "report.html").exists()
    assert (out / "records" / "qa.jsonl").exists()


def test_analyze_copies_records_at_full_precision(tmp_path: Path) -> None:
    # records/ must hold the records exactly: re-analysing the copies gives the same numbers
    norms = [1.0000000000001234, 0.12345678901234567]
    rows = [
        {"kind": "spectral", "step": i, "phase": "a", "module": "m", "spectral_norm": v}
        for i, v in enumerate(norms)
    ]
    out = tmp_path / "run"
    args = ["analyze", str(write_jsonl(tmp_path / "s.jsonl", rows)), "--out", str(out)]
    assert CliRunner().invoke(cli, [*args, "--no-report"]).exit_code == 0
    copied = out / "records" / "spectral.jsonl"
    lines = copied.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["spectral_norm"] for line in lines] == norms
    again = tmp_path / "again"
    args = ["analyze", str(copied), "--out", str(again), "--no-report", "--json"]
    first = json.loads((out / "results.json").read_text())["metrics"]
    assert json.loads(CliRunner().invoke(cli, args).output) == first


def test_bad_input_exits_2_with_one_line_and_keeps_results(tmp_path: Path) -> None:
    out = tmp_path / "run"
    good = write_jsonl(tmp_path / "good.jsonl", QA)
    assert crma_eval("analyze", str(good), "--out", str(out)).returncode == 0
    before = (out / "results.json").read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(QA[0]) + "\n" + '{"kind": "qa", "arm": 3}\n')
    proc = crma_eval("analyze", str(bad), "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f"{bad}:2:" in lines[0]
    assert (out / "results.json").read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [["analyze", "missing.jsonl", "--out", "x"], ["report", "no-such-run"], ["frobnicate"],
     ["analyze", "--out", "x"], ["analyze", "x.jsonl", "--confidence", "1.5"],
     ["analyze", "x.jsonl", "--ci-method", "bogus"]],
)  # fmt: skip
def test_usage_and_missing_inputs_exit_2(tmp_path: Path, args: list[str]) -> None:
    proc = crma_eval(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one line, no usage block


def test_the_installed_entry_point_exits_2_with_one_line(tmp_path: Path) -> None:
    # the one test here that starts an interpreter: `python -m crma_eval` reaches the same edge
    cmd = [sys.executable, "-m", "crma_eval", "analyze", "missing.jsonl", "--out", "x"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "missing.jsonl" in proc.stderr
    )


def test_internal_error_exits_3_with_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import crma_eval.analyze

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(crma_eval.analyze, "analyze_paths", boom)
    records = write_jsonl(tmp_path / "qa.jsonl", QA)
    result = CliRunner().invoke(cli, ["analyze", str(records), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3
    assert "RuntimeError: bug" in result.output


def test_analyze_copies_mixed_jsonl_and_parquet_records_by_kind(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crma_eval.records import load_records

    jsonl = write_jsonl(tmp_path / "a.jsonl", QA[:24])
    parquet = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(QA[24:]), parquet)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["analyze", str(jsonl), str(parquet), "--out", str(out)])
    assert result.exit_code == 0, result.output
    copied = load_records([out / "records" / "qa.jsonl"])["qa"]
    original = load_records([jsonl, parquet])["qa"]
    columns = ["arm", "domain", "item_id", "correct"]
    assert copied[columns].equals(original[columns])


def test_analyze_defaults_to_reports_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = write_jsonl(tmp_path / "qa.jsonl", QA)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["analyze", str(records), "--no-report"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "analysis" / "results.json").exists()


def test_analyze_failing_midway_leaves_every_earlier_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from crma_eval import atomicio

    out = tmp_path / "run"
    good = write_jsonl(tmp_path / "good.jsonl", QA)
    assert CliRunner().invoke(cli, ["analyze", str(good), "--out", str(out)]).exit_code == 0
    before = {p: p.read_bytes() for p in [out / "results.json", out / "records" / "qa.jsonl"]}
    fewer = write_jsonl(tmp_path / "fewer.jsonl", QA[:10])
    real = atomicio._staged

    @contextmanager
    def full(path: Path) -> Iterator[Any]:  # records copy staged, then results.json fails
        if path.name == "results.json":
            raise atomicio.no_space(path)
        with real(path) as staged:
            yield staged

    monkeypatch.setattr(atomicio, "_staged", full)
    result = CliRunner().invoke(cli, ["analyze", str(fewer), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{out / 'results.json'}: no space left on device" in result.output
    assert {p: p.read_bytes() for p in before} == before
    assert not list(out.rglob("*.tmp"))
    monkeypatch.undo()

    def enospc(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", enospc)
    result = CliRunner().invoke(cli, ["analyze", str(fewer), "--out", str(out)])
    assert result.exit_code == 2 and "no space left on device" in result.output
    assert "internal error" not in result.output
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.slow
def test_init_writes_a_config_that_loads_for_the_checkpoints(tmp_path: Path) -> None:
    import tinymodel as tm
    import yaml

    from crma_eval.config import load_config

    world = tm.world()
    pattern = str(world.root / "modular-p*")
    args = ["init", "--checkpoints", pattern, "--out", str(tmp_path / "proj"), "--name", "mine"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    cfg = load_config(tmp_path / "proj" / "crma-eval.yaml")
    assert cfg.name == "mine"
    assert sorted(p.resolve() for p in cfg.checkpoint_paths()) == sorted(
        p.resolve() for k, p in world.checkpoints.items() if k.startswith("modular")
    )
    assert sorted(cfg.data.qa) == sorted(cfg.data.holdout) == sorted(tm.DOMAINS)
    assert all(p.is_file() for p in [*cfg.data.qa.values(), *cfg.data.holdout.values()])
    gates = yaml.safe_load((tmp_path / "proj" / "gates.yaml").read_text())
    assert gates["gates"][0]["metric"] == "qa.with_crma.accuracy"
    again = CliRunner().invoke(cli, args)  # never overwrites
    assert again.exit_code == 2 and "exists already" in again.output


@pytest.mark.slow
def test_init_on_mixed_conditions_limits_crma_arms_and_gates_per_condition(tmp_path: Path) -> None:
    import tinymodel as tm
    import yaml

    from crma_eval.checkpoint import load_checkpoint
    from crma_eval.config import load_config

    world = tm.world()  # modular checkpoints ship CRMA; a frozen one without it is added here
    frozen = tm.build_checkpoint(tmp_path / "frozen", world.base, condition="frozen", crma=False)
    out = tmp_path / "proj"
    args = ["init", "--checkpoints", str(world.root / "modular-p*"), "--checkpoints", str(frozen)]
    args += ["--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    cfg = load_config(out / "crma-eval.yaml")
    checkpoints = [load_checkpoint(p) for p in cfg.checkpoint_paths()]
    with_crma = {c.manifest.training.condition for c in checkpoints if c.manifest.crma}
    assert with_crma and len(with_crma) < len({c.manifest.training.condition for c in checkpoints})
    cfg.check_arms(checkpoints)  # no arm asks for CRMA where a checkpoint has none
    arms = {a.name: a for a in cfg.arms}
    assert set(arms["with_crma"].conditions or []) == with_crma
    gates = yaml.safe_load((out / "gates.yaml").read_text())
    metrics = [
        g["metric"] for g in gates["gates"] if "metric" in g and g["metric"].startswith("qa")
    ]
    one = len(with_crma) == 1  # an arm of one condition keeps qa.<arm>.accuracy
    assert metrics == (
        ["qa.with_crma.accuracy"] if one else [f"qa.with_crma.{c}.accuracy" for c in with_crma]
    )


def test_gate_refreshes_an_existing_report_with_its_outcome(tmp_path: Path) -> None:
    records = write_jsonl(tmp_path / "qa.jsonl", QA)
    out = tmp_path / "run"
    assert CliRunner().invoke(cli, ["analyze", str(records), "--out", str(out)]).exit_code == 0
    assert 'class="gate' not in (out / "report.html").read_text(encoding="utf-8")
    spec = tmp_path / "gates.yaml"
    spec.write_text("gates:\n  - metric: qa.with_crma.accuracy\n    min: 1.01\n")
    result = CliRunner().invoke(cli, ["gate", str(out), "--spec", str(spec)])
    assert result.exit_code == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="gate gate-fail"' in html and "Gate FAILED" in html


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_init_writes_a_commented_cl_arm_that_loads_once_enabled(tmp_path: Path) -> None:
    import tinymodel as tm

    from crma_eval.checkpoint import load_checkpoint
    from crma_eval.config import load_config

    world = tm.world()
    out = tmp_path / "proj"
    args = ["init", "--checkpoints", str(world.root / "modular-p*"), "--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    path = out / "crma-eval.yaml"
    text = path.read_text()
    stanza = next(line for line in text.splitlines() if "checkpoints: all" in line)
    assert stanza.lstrip().startswith("# - {name: cl_matrix") and '"cl"' in stanza
    plugins = next(line for line in text.splitlines() if line.startswith("plugins:"))
    enabled = text.replace(stanza, stanza.replace("# - ", "- ", 1)).replace(
        plugins, plugins.replace("[", '["cl", ', 1)
    )
    path.write_text(enabled)
    cfg = load_config(path)
    assert "cl" in cfg.plugins
    arm = next(a for a in cfg.arms if a.name == "cl_matrix")
    assert arm.checkpoints == "all"
    cfg.check_arms([load_checkpoint(p) for p in cfg.checkpoint_paths()])
