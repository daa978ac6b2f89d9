"""Run directory: atomic writes, unit commits and recovery after a kill mid-unit."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crma_eval import store
from crma_eval.errors import InputError
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


def loss(i: int) -> dict:
    return {"kind": "loss", "condition": "c", "seed": 0, "after_phase": 1, "domain": "d",
            "loss": 1.0 + i, "n_tokens": 5}  # fmt: skip


def _die_on_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next ledger append tear its line and 'kill' the process (KeyboardInterrupt)."""
    real = store._fsync_append

    def append(path: Path, data: bytes) -> int:
        if path.name == "ledger.jsonl":
            real(path, data[:10])
            raise KeyboardInterrupt
        return real(path, data)

    monkeypatch.setattr(store, "_fsync_append", append)


def test_recover_rolls_back_a_unit_killed_mid_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RunDir(tmp_path)
    run.commit_unit("u1", [qa(1)])
    good = (run.records_dir / "qa.jsonl").read_bytes()
    with monkeypatch.context() as m:
        _die_on_ledger(m)
        with pytest.raises(KeyboardInterrupt):
            run.commit_unit("u2", [qa(2), loss(1)])
    assert (run.records_dir / "loss.jsonl").exists()  # appended before the kill
    RunDir(tmp_path).recover()
    assert (run.records_dir / "qa.jsonl").read_bytes() == good
    assert not (run.records_dir / "loss.jsonl").exists()
    assert run.completed_units() == {"u1"}
    assert run.ledger_path.read_text().count("\n") == 1
    run.commit_unit("u2", [qa(2)])  # resumable afterwards
    RunDir(tmp_path).recover()
    assert len(load_records(run.record_files())["qa"]) == 2


def test_records_without_a_ledger_are_refused_not_deleted(tmp_path: Path) -> None:
    # e.g. an `analyze` output, or a copy of a run without its ledger
    path = tmp_path / "records" / "qa.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps(qa(1)) + "\n")
    with pytest.raises(InputError, match="no ledger"):
        RunDir(tmp_path).recover()
    assert path.read_text() == json.dumps(qa(1)) + "\n"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-5], "shorter"),
        (lambda b: b.replace(b'"3"', b'"9"'), "changed or replaced"),
        (lambda b: b + json.dumps(qa(7)).encode() + b"\n", "no unit of this run wrote"),
    ],
)
def test_records_that_differ_from_the_ledger_are_refused(
    tmp_path: Path, damage: object, message: str
) -> None:
    run = RunDir(tmp_path)
    for i in (1, 2, 3):
        run.commit_unit(f"u{i}", [qa(i)])
    path = run.records_dir / "qa.jsonl"
    damaged = damage(path.read_bytes())  # type: ignore[operator]
    path.write_bytes(damaged)
    with pytest.raises(InputError, match=message):
        run.recover()
    assert path.read_bytes() == damaged


def test_drop_units_keeps_every_other_unit_byte_for_byte(tmp_path: Path) -> None:
    run, ref = RunDir(tmp_path / "run"), RunDir(tmp_path / "ref")
    run.commit_unit("u1", [qa(1), loss(1)], fp="a")
    run.commit_unit("u2", [qa(2), loss(2)], fp="b")
    run.commit_unit("u3", [qa(3)], fp="c")
    ref.commit_unit("u1", [qa(1), loss(1)])
    ref.commit_unit("u3", [qa(3)])
    run.drop_units({"u2"})
    run.recover()  # the ledger vouches for the rewritten files
    assert run.fingerprints() == {"u1": "a", "u3": "c"}
    for name in ("qa.jsonl", "loss.jsonl"):
        assert (run.records_dir / name).read_bytes() == (ref.records_dir / name).read_bytes()
    run.drop_units({"u1"})
    assert not (run.records_dir / "loss.jsonl").exists()
    run.recover()


@pytest.mark.parametrize("after_commit_point", [False, True])
def test_drop_units_killed_midway_recovers_to_one_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after_commit_point: bool
) -> None:
    run = RunDir(tmp_path)
    run.commit_unit("u1", [qa(1)])
    run.commit_unit("u2", [qa(2)])
    before = (run.records_dir / "qa.jsonl").read_bytes()
    with monkeypatch.context() as m:
        if after_commit_point:
            m.setattr(RunDir, "_finish_compaction", lambda self: None)
            run.drop_units({"u2"})
        else:
            m.setattr(store, "write_json_atomic", lambda *a: (_ for _ in ()).throw(OSError()))
            with pytest.raises(OSError):
                run.drop_units({"u2"})
    run.recover()
    assert run.completed_units() == ({"u1"} if after_commit_point else {"u1", "u2"})
    qa_now = load_records(run.record_files())["qa"]
    assert len(qa_now) == (1 if after_commit_point else 2)
    assert after_commit_point or (run.records_dir / "qa.jsonl").read_bytes() == before
    assert not list(tmp_path.rglob("*.compact"))


def test_invalid_record_fails_the_commit_naming_the_field(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    bad = {**qa(2), "correct": "maybe"}
    with pytest.raises(InputError, match="invalid record #2") as info:
        run.commit_unit("u1", [qa(1), bad])
    assert info.value.field == "correct"
    assert run.record_files() == [] and run.completed_units() == set()


def test_full_disk_rolls_back_the_unit_and_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RunDir(tmp_path)
    run.commit_unit("u1", [qa(1)])
    good = (run.records_dir / "qa.jsonl").read_bytes()
    real = os.fsync

    def full(fd: int) -> None:  # the disk fills up while loss.jsonl is appended
        if os.readlink(f"/proc/self/fd/{fd}").endswith("loss.jsonl"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(InputError, match="no space left") as info:
        run.commit_unit("u2", [qa(2), loss(2)])
    assert str(info.value).startswith(str(run.records_dir / "loss.jsonl"))
    assert (run.records_dir / "qa.jsonl").read_bytes() == good
    monkeypatch.undo()
    run.recover()
    assert run.completed_units() == {"u1"}


def test_second_holder_of_the_lock_is_refused_with_the_pid(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    refused = pytest.raises(InputError, match=f"in use by PID {os.getpid()}")
    with run.locked(), refused, RunDir(tmp_path).locked():
        pass
    with RunDir(tmp_path).locked():  # released
        pass


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    code = (
        "import sys; from crma_eval.store import RunDir\n"
        "with RunDir(sys.argv[1]).locked(): pass\n"
        "import os; os._exit(0)"
    )
    # a holder that dies with the lock file left behind, holding its PID
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    (tmp_path / "run.lock").write_text("999999\n")
    with RunDir(tmp_path).locked():
        assert (tmp_path / "run.lock").read_text().strip() == str(os.getpid())


def test_write_text_atomic_creates_parents(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "a" / "b.txt", "hi")
    assert path.read_text() == "hi"


def test_atomic_write_gives_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "r.txt", "x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
