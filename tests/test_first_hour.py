"""The README's first hour, exactly as written: init, run, gate from one folder; rescore keeps the
run resumable; init on stray files; the demo's smoke summary."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from crma_eval.cli import cli
from crma_eval.demo.run import SMOKE_NOTE, summary_lines

REPO = Path(__file__).resolve().parents[1]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output  # 1: a gate failed (the templates' data)
    return result.output


def _readme_block(heading: str) -> list[str]:
    """The command lines of the first bash block after `heading` in the README."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split(heading, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _units(run_dir: Path) -> dict[str, float]:
    lines = (run_dir / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    return {e["unit"]: e["time"] for e in map(json.loads, lines)}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import tinymodel as tm

    (tmp_path / "ckpt").mkdir()
    for name, folder in tm.world().checkpoints.items():
        if name.startswith("modular"):
            (tmp_path / "ckpt" / folder.name).symlink_to(folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow  # the README's commands on real tiny checkpoints
def test_readme_sequence_runs_as_written_and_rescore_keeps_it_resumable(in_tmp: Path) -> None:
    commands = _readme_block("## Running on your checkpoints")
    commands = [c.replace(" [--baseline OLD_RUN_DIR]", "") for c in commands]
    assert [c.split()[:2] for c in commands] == [
        ["crma-eval", "init"],
        ["crma-eval", "run"],
        ["crma-eval", "run"],
        ["crma-eval", "gate"],
    ]
    init, first, full, gate = commands
    (in_tmp / "ckpt" / "notes.txt").write_text("a stray file the glob matches\n")
    _invoke(*shlex.split(init)[1:])
    _invoke(*shlex.split(first)[1:])
    _invoke(*shlex.split(full)[1:])
    gate_args = shlex.split(gate)[1:]
    _invoke(*gate_args)
    run_dir = in_tmp / gate_args[1]
    assert (run_dir / "junit.xml").is_file() and (run_dir / "summary.md").is_file()

    before = _units(run_dir)
    rescored = CliRunner().invoke(cli, ["rescore", str(run_dir), "--scorers", "token_f1"])
    assert rescored.exit_code == 0, rescored.output
    assert all(
        "token_f1" in json.loads(line)["scores"]
        for line in (run_dir / "records" / "qa.jsonl").read_text().splitlines()
    )
    config_path = in_tmp / "myeval" / "crma-eval.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["arms"].append({"name": "bare", "crma": False, "adapter": "none"})
    config_path.write_text(yaml.safe_dump(config))
    _invoke("run", str(config_path.relative_to(in_tmp)))
    after = _units(run_dir)
    assert {u: t for u, t in after.items() if u in before} == before  # nothing recollected
    new = set(after) - set(before)
    assert new and all("|bare|" in u for u in new)
    records = (run_dir / "records" / "qa.jsonl").read_text().splitlines()
    kept = [json.loads(line) for line in records if json.loads(line)["arm"] != "bare"]
    assert all("token_f1" in r["scores"] for r in kept)  # the rescored records stayed


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_init_skips_stray_files_and_writes_router_and_bench_sections(in_tmp: Path) -> None:
    (in_tmp / "ckpt" / "README.md").write_bytes(b"\xff\xfe not yaml")
    result = CliRunner().invoke(cli, ["init", "--checkpoints", "ckpt/*", "--out", "proj"])
    assert result.exit_code == 0, result.output
    assert "ckpt/README.md: not a checkpoint folder" in result.output
    config = yaml.safe_load((in_tmp / "proj" / "crma-eval.yaml").read_text())
    arms = {a["name"]: a for a in config["arms"]}
    assert arms["routed"]["adapter"] == "router" and arms["routed"]["crma"] is True
    assert config["options"]["router"] == {"routed_arm": "routed", "oracle_arm": "with_crma"}
    text = (in_tmp / "proj" / "crma-eval.yaml").read_text()
    assert "# bench:" in text and "gsm8k_crma" in text
    assert config["out"] == "../reports/proj"  # relative to the config: reports/proj from here

    named = CliRunner().invoke(cli, ["init", "--checkpoints", "ckpt/README.md", "--out", "p2"])
    assert named.exit_code == 2 and "not a checkpoint folder" in named.output
    assert "UnicodeDecodeError" not in named.output and not (in_tmp / "p2").exists()


def test_smoke_summary_says_so_and_leaves_out_all_zero_qa() -> None:
    metrics = {
        "qa.with_crma.k": 0,
        "qa.with_crma.accuracy": 0.0,
        "qa.with_crma.ci_low": 0.0,
        "qa.with_crma.ci_high": 0.11,
        "qa.without_crma.k": 0,
        "qa.without_crma.accuracy": 0.0,
        "qa.without_crma.ci_low": 0.0,
        "qa.without_crma.ci_high": 0.11,
        "ablation.with_crma_vs_without_crma.pvalue": 1.0,
        "ablation.with_crma_vs_without_crma.diff": 0.0,
    }
    smoke = summary_lines({"metrics": metrics}, smoke=True)
    assert smoke[0] == SMOKE_NOTE
    assert not any(line.startswith(("QA with_crma", "CRMA ablation")) for line in smoke)
    full = summary_lines({"metrics": metrics})
    assert SMOKE_NOTE not in full and any(line.startswith("QA with_crma") for line in full)
    metrics["qa.with_crma.k"] = 3
    shown = summary_lines({"metrics": metrics}, smoke=True)
    assert any(line.startswith("CRMA ablation") for line in shown)
