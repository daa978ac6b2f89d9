"""Run directory: atomic writes, unit commits and recovery after a kill mid-unit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crma_eval.records import load_records
from crma_eval.store import RunDir, write_json_atomic, write_text_atomic


def qa(i: int) -> dict:
    return {"kind": "qa", "arm": "a", "domain": "d", "item_id": str(i), "correct": True}


def test_atomic_write_leaves_old_file_when_serialisation_fails(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "results.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_nan_is_written_as_null(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "r.json", {"x": float("nan"), "y": [float("inf"), 1.5]})
    assert json.loads(path.read_text()) == {"x": None, "y": [None, 1.5]}


def test_commit_and_completed_units(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.commit_unit("qa|c|a|d", [qa(1), qa(2)])
    run.commit_unit("qa|c|a|e", [qa(3)])
    assert run.completed_units() == {"qa|c|a|d", "qa|c|a|e"}
    assert len(load_records(run.record_files())["qa"]) == 3


def test_recover_cuts_records_of_an_unfinished_unit(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.commit_unit("u1", [qa(1)])
    good = (run.records_dir / "qa.jsonl").read_bytes()
    # A kill after the records were appended but before the ledger line was complete:
    with (run.records_dir / "qa.jsonl").open("ab") as fh:
        fh.write(b'{"kind": "qa", "arm": "a", "domain": "d", "item_id": "2", "corr')
    with run.ledger_path.open("a") as fh:
        fh.write('{"unit": "u2", "offs')
    (run.records_dir / "loss.jsonl").write_text('{"kind": "loss"}\n')  # no unit vouches for it
    run.recover()
    assert (run.records_dir / "qa.jsonl").read_bytes() == good
    assert not (run.records_dir / "loss.jsonl").exists()
    assert run.completed_units() == {"u1"}
    assert run.ledger_path.read_text().count("\n") == 1


def test_write_text_atomic_creates_parents(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "a" / "b.txt", "hi")
    assert path.read_text() == "hi"


def test_atomic_write_gives_the_usual_permissions(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "r.txt", "x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
