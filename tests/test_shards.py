"""Shard merge, resume plan and work plan of the distributed executor (no Ray needed)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crma_eval.run as run_module
from crma_eval.collect import CollectContext, Unit
from crma_eval.config import DataConfig, RunConfig
from crma_eval.errors import InputError
from crma_eval.executors.distributed import check_fingerprint, prepare
from crma_eval.executors.plan import NO_DATA_FACTOR, make_groups
from crma_eval.shards import (
    SHARDS,
    Merger,
    ShardConflict,
    committed_units,
    new_shard_names,
    recover_all,
)
from crma_eval.store import RunDir

PLAN = [Unit("drift", f"ck{c}", "-", d) for c in range(3) for d in ("medical", "legal")] + [
    Unit("qa", "ck2", arm, "medical") for arm in ("with_crma", "without_crma")
]


def records_of(unit: Unit) -> list[dict[str, Any]]:
    """Deterministic records of a unit: loss for drift, a qa record for qa (odd floats, unicode)."""
    if unit.plugin == "drift":
        return [{"kind": "loss", "checkpoint": unit.checkpoint, "domain": unit.domain,
                 "loss": 1 / 3 + len(unit.key), "n_tokens": 7, "note": "é"}]  # fmt: skip
    return [{"kind": "qa", "checkpoint": unit.checkpoint, "arm": unit.arm, "item_id": str(i),
             "correct": i % 2 == 0, "score": 0.1 * i} for i in range(3)]  # fmt: skip


def serial(root: Path) -> RunDir:
    run = RunDir(root / "serial").ensure()
    for unit in PLAN:
        run.commit_unit(unit.key, records_of(unit), plugin=unit.plugin)
    return run


def record_bytes(run: RunDir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.record_files()}


def shard(run: RunDir, name: str, units: list[Unit]) -> RunDir:
    part = RunDir(run.path / SHARDS / name).ensure()
    for unit in units:
        part.commit_unit(unit.key, records_of(unit), plugin=unit.plugin, seconds=1.0)
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


def test_torn_tails_and_stray_temporaries_are_recovered(tmp_path: Path) -> None:
    reference = record_bytes(serial(tmp_path))
    run = RunDir(tmp_path / "ray").ensure()
    part = shard(run, "a001-w0", PLAN)
    with (part.records_dir / "loss.jsonl").open("ab") as fh:
        fh.write(b'{"kind": "loss", "checkpoint": "ck9", "lo')  # killed mid-write
    with part.ledger_path.open("a") as fh:
        fh.write('{"unit": "drift|ck9|-|me')
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


def test_resume_merges_shards_first_then_plans_only_what_is_missing(tmp_path: Path) -> None:
    """The prototype planned before merging and recomputed 26 units; this must plan none twice."""
    run = RunDir(tmp_path / "ray").ensure()
    for unit in PLAN[:2]:  # merged before the driver was killed
        run.commit_unit(unit.key, records_of(unit), plugin=unit.plugin)
    shard(run, "a001-w0", [PLAN[3], PLAN[2]])
    shard(run, "a001-w1", [PLAN[6]])
    collectors = {"drift": FakeCollector("drift"), "qa": FakeCollector("qa")}
    ctx = CollectContext(RunConfig(), [], run)
    prepared = prepare(collectors, ctx)  # type: ignore[arg-type]
    assert [u.key for _, u in prepared.pending] == [PLAN[i].key for i in (4, 5, 7)]
    assert [e["unit"] for e in run.ledger()] == [u.key for u in PLAN[:4]]
    assert prepared.merger.staged.keys() == {PLAN[6].key}


def test_worker_refuses_a_fingerprint_other_than_run_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RunDir(tmp_path).ensure()
    (tmp_path / "run.json").write_text(json.dumps({"config_hash": "a", "versions": {"x": "1"}}))
    monkeypatch.setattr(run_module, "_fingerprint", lambda c, k: {"config_hash": "a",
                        "versions": {"x": "1"}})  # fmt: skip
    check_fingerprint(run, RunConfig(), [])
    monkeypatch.setattr(run_module, "_fingerprint", lambda c, k: {"config_hash": "a",
                        "versions": {"x": "2"}})  # fmt: skip
    with pytest.raises(InputError, match="versions"):
        check_fingerprint(run, RunConfig(), [])


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
