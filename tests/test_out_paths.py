"""Every verb with an output path, pointed under a regular file (a folder cannot be made there):
exit 2, one line naming the path and the next step, no traceback (crma_eval.oserrors)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crma_eval.analyze import analyze_paths
from crma_eval.cli import cli

PAPER = Path(__file__).parent.parent / "examples" / "paper"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outpaths")
    analyze_paths([PAPER / "loss.jsonl", PAPER / "qa.jsonl"], out / "run")
    shutil.copytree(out / "run", out / "run2")
    (out / "file").write_text("a regular file\n", "utf-8")
    return out / "run"


VERBS = {
    "analyze": lambda r, bad: ["analyze", str(PAPER / "qa.jsonl"), "--out", bad],
    "compare": lambda r, bad: ["compare", str(r), str(r.parent / "run2"), "--out", bad],
    "init": lambda r, bad: ["init", "--out", bad],
    "claims --summary": lambda r, bad: [
        "claims",
        str(PAPER / "claims.yaml"),
        str(r),
        "--summary",
        f"{bad}/s.md",
    ],
    "review export": lambda r, bad: ["review", "export", str(r), "--out", f"{bad}/s.csv"],
    "export": lambda r, bad: ["export", str(r), "--to", "hf", "--out", bad],
}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_an_output_path_under_a_regular_file_is_a_one_line_exit_2(run: Path, verb: str) -> None:
    bad = str(run.parent / "file" / "sub")
    result = CliRunner().invoke(cli, VERBS[verb](run, bad))
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(run.parent / "file") in lines[0] and "check the path" in lines[0]
