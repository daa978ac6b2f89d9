"""Shard merge, resume plan and work plan of the distributed executor (no Ray needed)."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crma_eval import store
from crma_eval.collect import CollectContext, Unit, fingerprinted_plan, run_units
from crma_eval.collect.executors.distributed import check_fingerprints, prepare
from crma_eval.collect.executors.plan import NO_DATA_FACTOR, make_groups
from crma_eval.collect.shards import (
    SHARDS,
    Merger,
    ShardConflict,
    committed_units,
    new_shard_names,
    recover_all,
)
from crma_eval.config import DataConfig, RunConfig
from crma_eval.errors import InputError
from crma_eval.store import RunDir

PLAN = [Unit("drift", f"ck{c}", "-", d) for c in range(3) for d in ("medical", "legal")] + [
    Unit("qa", "ck2", arm, "medical") for arm in ("with_crma", "without_crma")
]


def records_of(unit: Unit) -> list[dict[str, Any]]:
    """Deterministic valid records of a unit: loss for drift, qa for qa (odd floats, unicode)."""
    if unit.plugin == "drift":
        return [{"kind": "loss", "condition": unit.checkpoint, "seed": 0, "after_phase": 1,
                 "domain": unit.domain, "loss": 1 / 3 + len(unit.key), "n_tokens": 7,
                 "note": "é"}]  # fmt: skip
    return [{"kind": "qa", "checkpoint": unit.checkpoint, "arm": unit.arm,
             "domain": unit.domain, "item_id": str(i), "correct": i % 2 == 0,
             "score": 0.1 * i} for i in range(3)]  # fmt: skip


def serial(root: Path) -> RunDir:
    run = RunDir(root / "serial").ensure()
    for unit in PLAN:
        run.commit_unit(unit.key, records_of(unit), plugin=unit.plugin)
    return run


def record_bytes(run: RunDir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.record_files()}


def shard(run: RunDir, name: str, units: list[Unit], fps: dict[str, str] | None = None) -> RunDir:
    part = RunDir(run.path / SHARDS / name).ensure()
    for unit in units:
        fp = (fps or {}).get(unit.key)
        part.commit_unit(unit.key, records_of(unit), fp=fp, plugin=unit.plugin, seconds=1.0)
    return part


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=len(PLAN), max_size=len(PLAN)), st.randoms())
def test_merge_in_plan_order_equals_serial_bytes(
    tmp_path_factory: pytest.TempPathFactory, owner: list[int], rnd: random.Random
) -> None:
    """Any split of the units over 3 shards, each in any order, merges to the serial bytes."""
    root = tmp_path_factory.mktemp("m")
    reference = record_bytes(serial(root))
    run = RunDir(root / "ray").ensure()
    for worker in range(3):
        mine = [u for u, o in zip(PLAN, owner, strict=True) if o == worker]
        rnd.shuffle(mine)
        shard(run, f"a001-w{worker}", mine)
    merger = Merger(run, [u.key for u in PLAN])
    for part in recover_all(run):
        merger.offer(committed_units(part).values())
    assert merger.advance() == [u.key for u in PLAN]
    assert record_bytes(run) == reference
    assert [e["unit"] for e in run.ledger()] == [u.key for u in PLAN]


def test_merge_waits_for_the_next_unit_in_plan_order(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run").ensure()
    part = shard(run, "a001-w0", PLAN[1:3])
    merger = Merger(run, [u.key for u in PLAN])
    merger.offer(committed_units(part).values())
    assert merger.advance() == []  # PLAN[0] missing: nothing may be appended yet
    merger.skip(PLAN[0].key)  # e.g. it failed on bad input
    assert merger.advance() == [PLAN[1].key, PLAN[2].key]


def test_torn_tails_and_stray_temporaries_are_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = record_bytes(serial(tmp_path))
    run = RunDir(tmp_path / "ray").ensure()
    part = shard(run, "a001-w0", PLAN)
    real = store._fsync_append

    def torn(path: Path, data: bytes) -> int:  # the worker is killed halfway through a write
        real(path, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_fsync_append", torn)
    with pytest.raises(KeyboardInterrupt):
        part.commit_unit("drift|ck9|-|medical", records_of(Unit("drift", "ck9", "-", "medical")))
    monkeypatch.undo()
    with part.ledger_path.open("a") as fh:
        fh.write('{"unit": "drift|ck9|-|me')  # and a torn ledger line
    stray = part.records_dir / ".loss.jsonl.abc.tmp"
    stray.write_text("half")
    merger = Merger(run, [u.key for u in PLAN])
    for each in recover_all(run):
        merger.offer(committed_units(each).values())
    merger.advance()
    assert not stray.exists()
    assert part.ledger_path.read_text().endswith("}\n")
    assert record_bytes(run) == reference


def test_exact_duplicates_are_dropped(tmp_path: Path) -> None:
    reference = record_bytes(serial(tmp_path))
    run = RunDir(tmp_path / "ray").ensure()
    shard(run, "a001-w0", PLAN[:5])
    shard(run, "a001-w1", PLAN[3:])  # units 3 and 4 twice, same bytes
    merger = Merger(run, [u.key for u in PLAN])
    for part in recover_all(run):
        merger.offer(committed_units(part).values())
    merger.advance()
    assert merger.dropped == 2
    assert record_bytes(run) == reference
    again = Merger(run, [u.key for u in PLAN])  # a rerun meets every shard unit in the run dir
    for part in recover_all(run):
        again.offer(committed_units(part).values())
    assert again.advance() == [] and again.dropped == len(PLAN) + 2
    assert record_bytes(run) == reference


def test_conflicting_duplicates_are_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "ray").ensure()
    shard(run, "a001-w0", PLAN[:2])
    other = RunDir(run.path / SHARDS / "a002-w0").ensure()
    changed = records_of(PLAN[1])
    changed[0]["loss"] += 1e-12
    other.commit_unit(PLAN[1].key, changed, plugin="drift")
    merger = Merger(run, [u.key for u in PLAN])
    with pytest.raises(ShardConflict) as err:
        for part in recover_all(run):
            merger.offer(committed_units(part).values())
    assert isinstance(err.value, InputError)
    assert PLAN[1].key in str(err.value) and "a002-w0" in str(err.value)


def test_new_shard_names_never_reuse_an_attempt(tmp_path: Path) -> None:
    run = RunDir(tmp_path).ensure()
    assert new_shard_names(run, 2) == ["a001-w0", "a001-w1"]
    shard(run, "a001-w1", [])
    assert new_shard_names(run, 3) == ["a002-w0", "a002-w1", "a002-w2"]


class FakeCollector:
    """Lists PLAN's units of its plugin; counts the units it runs."""

    def __init__(self, plugin: str) -> None:
        self.plugin, self.ran = plugin, []

    def units(self, ctx: CollectContext) -> list[Unit]:
        return [u for u in PLAN if u.plugin == self.plugin]

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        self.ran.append(unit.key)
        return records_of(unit)


def collectors() -> dict[str, FakeCollector]:
    return {"drift": FakeCollector("drift"), "qa": FakeCollector("qa")}


def plan_fps(ctx: CollectContext) -> dict[str, str]:
    """The fingerprints the serial loop would give each unit of PLAN."""
    _, fps, failures = fingerprinted_plan(collectors(), ctx)  # type: ignore[arg-type]
    assert not failures and len(fps) == len(PLAN)
    return fps


def test_resume_merges_shards_first_then_plans_only_what_is_missing(tmp_path: Path) -> None:
    """The prototype planned before merging and recomputed 26 units; this must plan none twice.

    Units committed with another fingerprint (in the run directory or a shard) are recomputed.
    """
    run = RunDir(tmp_path / "ray").ensure()
    ctx = CollectContext(RunConfig(), [], run)
    fps = plan_fps(ctx)
    for unit in PLAN[:2]:  # merged before the driver was killed
        run.commit_unit(unit.key, records_of(unit), fp=fps[unit.key], plugin=unit.plugin)
    run.commit_unit(PLAN[4].key, records_of(PLAN[4]), fp="stale", plugin="drift")
    shard(run, "a001-w0", [PLAN[3], PLAN[2]], fps)
    shard(run, "a001-w1", [PLAN[6]], fps)
    shard(run, "a001-w2", [PLAN[5]], {PLAN[5].key: "stale"})
    prepared = prepare(collectors(), ctx)  # type: ignore[arg-type]
    assert [u.key for _, u in prepared.pending] == [PLAN[i].key for i in (4, 5, 7)]
    assert [e["unit"] for e in run.ledger()] == [u.key for u in PLAN[:4]]
    assert run.fingerprints() == {u.key: fps[u.key] for u in PLAN[:4]}
    assert prepared.merger.staged.keys() == {PLAN[6].key}
    assert prepared.jobs((PLAN[4],)) == [("drift", PLAN[4], fps[PLAN[4].key])]


def test_merged_units_are_skipped_by_a_later_serial_resume(tmp_path: Path) -> None:
    """The merge copies each unit's fingerprint into the run's ledger."""
    reference = record_bytes(serial(tmp_path))
    run = RunDir(tmp_path / "ray").ensure()
    ctx = CollectContext(RunConfig(), [], run)
    fps = plan_fps(ctx)
    shard(run, "a001-w0", PLAN[::2], fps)
    shard(run, "a001-w1", PLAN[1::2], fps)
    prepared = prepare(collectors(), ctx)  # type: ignore[arg-type]
    assert prepared.pending == [] and run.fingerprints() == fps
    assert {e["seconds"] for e in run.ledger()} == {1.0}
    again = collectors()
    assert run_units(again, ctx) == []  # type: ignore[arg-type]
    assert again["drift"].ran == [] and again["qa"].ran == []
    assert record_bytes(run) == reference


def test_worker_refuses_units_it_fingerprints_otherwise(tmp_path: Path) -> None:
    """A worker that sees another data file than the driver must not compute the unit."""
    data = tmp_path / "holdout.jsonl"
    data.write_text('{"text": "a b"}\n')
    config = RunConfig(data=DataConfig(holdout={"medical": data}))
    ctx = CollectContext(config, [], RunDir(tmp_path / "run"))
    fps = plan_fps(ctx)
    jobs = [("drift", u, fps[u.key]) for u in PLAN[:2]]
    check_fingerprints(collectors(), ctx, jobs)  # type: ignore[arg-type]
    data.write_text('{"text": "a b c"}\n')  # the worker's node holds another file
    with pytest.raises(InputError, match=r"drift\|ck0\|-\|medical.*fingerprints differ"):
        check_fingerprints(collectors(), ctx, jobs)  # type: ignore[arg-type]


def test_a_shard_held_by_a_live_worker_is_waited_for(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "ray").ensure()
    part = shard(run, "a001-w0", PLAN[:1])
    # a worker of a killed driver still writing
    with part.locked(), pytest.raises(InputError, match="in use by PID"):
        recover_all(run, wait_s=0.3)
    assert [s.path.name for s in recover_all(run, wait_s=0.3)] == ["a001-w0"]


def test_groups_largest_first_per_checkpoint_bench_alone(tmp_path: Path) -> None:
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    small.write_text('{"text": "a b"}\n')
    big.write_text('{"text": "a b c d e f g h"}\n' * 50)
    config = RunConfig(data=DataConfig(holdout={"medical": small, "legal": big}))
    checkpoints = [SimpleNamespace(id=f"ck{c}", manifest=SimpleNamespace(base_model="B"))
                   for c in range(3)]  # fmt: skip
    ctx = CollectContext(config, checkpoints, RunDir(tmp_path))  # type: ignore[arg-type]
    units = [Unit("drift", "ck0", "-", "medical"), Unit("drift", "ck1", "-", "medical"),
             Unit("drift", "ck1", "-", "legal"), Unit("bench", "ck2", "a", "mmlu"),
             Unit("bench", "ck2", "a", "arc")]  # fmt: skip
    groups = make_groups(units, ctx, units, [])
    assert [g.key for g in groups] == [("B", "ck2", "a", "mmlu"), ("B", "ck2", "a", "arc"),
                                       ("B", "ck1"), ("B", "ck0")]  # fmt: skip
    tokens_big = 50 * 9  # {"text": ...} lines: 9 whitespace tokens each
    assert groups[0].cost == NO_DATA_FACTOR * tokens_big
    assert groups[2].units == (units[1], units[2]) and groups[2].cost == tokens_big + 3
    # measured durations win: arc took 100 s before, medical 1 s per 3 tokens
    ledger = [{"unit": Unit("bench", "ck9", "a", "arc").key, "seconds": 100.0},
              {"unit": Unit("drift", "ck9", "-", "medical").key, "seconds": 1.0}]  # fmt: skip
    plan = [*units, Unit("bench", "ck9", "a", "arc"), Unit("drift", "ck9", "-", "medical")]
    groups = make_groups(units, ctx, plan, ledger)
    by_key = {g.key: g.cost for g in groups}
    assert by_key[("B", "ck2", "a", "arc")] == 100.0
    assert by_key[("B", "ck0")] == 1.0
    # bench mmlu unmeasured: its guess at the bench plugin's rate (100 s per guess of arc)
    assert by_key[("B", "ck2", "a", "mmlu")] == pytest.approx(100.0)
    assert by_key[("B", "ck1")] == pytest.approx(1.0 + tokens_big / 3)
