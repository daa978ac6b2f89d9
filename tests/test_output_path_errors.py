"""Every verb's output path through a regular file reads "a part of the path is not a folder"."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from click.testing import CliRunner

from crma_eval.atomicio import write_jsonl
from crma_eval.cli import cli
from crma_eval.oserrors import user_fixable

QA = [
    {"kind": "qa", "arm": arm, "domain": "d", "item_id": f"i{i}", "correct": i % 2 == 0}
    for arm in ("a", "b")
    for i in range(6)
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("paths")
    records = write_jsonl(root / "qa.jsonl", QA)
    run = root / "run"
    assert CliRunner().invoke(cli, ["analyze", str(records), "--out", str(run)]).exit_code == 0
    claims = root / "claims.yaml"
    claims.write_text("claims:\n  - {id: v, values: [1, 2], printed: {mean: 1.5}}\n", "utf-8")
    blocker = root / "afile"
    blocker.write_text("a regular file\n", "utf-8")
    return records, run, claims


VERBS = [
    lambda r, run, c, out: ["claims", str(c), "--summary", str(out / "s.md")],
    lambda r, run, c, out: ["claims", str(c), "--summary", str(out / "deeper" / "s.md")],
    lambda r, run, c, out: ["analyze", str(r), "--out", str(out / "o")],
    lambda r, run, c, out: ["export", str(run), "--to", "tensorboard", "--out", str(out)],
    lambda r, run, c, out: ["export", str(run), "--to", "hf", "--out", str(out / "h")],
    lambda r, run, c, out: ["compare", str(run), str(run), "--out", str(out)],
]


@pytest.mark.parametrize("argv", VERBS)
def test_output_under_a_file_names_a_non_folder(setup, argv) -> None:
    records, run, claims = setup
    blocker = records.parent / "afile"
    result = CliRunner().invoke(cli, argv(records, run, claims, blocker))
    assert result.exit_code == 2, result.output
    assert "a part of the path is not a folder" in result.output
    assert "already exists" not in result.output and "Traceback" not in result.output


def test_exist_error_on_a_file_reads_as_not_a_folder_but_not_on_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "f"
    afile.write_text("x", "utf-8")
    as_file = user_fixable(FileExistsError(errno.EEXIST, "File exists", str(afile)))
    as_dir = user_fixable(FileExistsError(errno.EEXIST, "File exists", str(tmp_path)))
    assert as_file is not None and "not a folder" in as_file.one_line()
    assert as_dir is not None and "already exists" in as_dir.one_line()
