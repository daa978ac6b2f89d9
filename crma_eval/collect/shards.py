"""Shard run directories of a distributed run, and their merge into the run directory.

Each worker of `crma-eval run --executor ray` commits its units to its own shard
`RUN_DIR/shards/<worker>/`, itself a `RunDir` (records/ + ledger.jsonl, the same atomic unit
commit). Only the driver writes `RUN_DIR/records/` and `RUN_DIR/ledger.jsonl`: it copies each unit
from its shard in *plan order*, so the record files are byte for byte those of a serial run. A
unit found twice (two shards, or a shard and the run directory) is dropped when its bytes are the
same and refused (`ShardConflict`) when they differ.

A unit's bytes in a record file are the range between the previous ledger entry's end offset for
that file and its own (`RunDir.commit_unit` appends one unit at a time and notes the end offsets).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crma_eval.errors import InputError
from crma_eval.records import record_json
from crma_eval.store import RunDir

SHARDS = "shards"
# Set by commit_unit/merge; everything else (fp, plugin, seconds) is copied into the run's ledger.
_LEDGER_OWN = ("unit", "offsets", "sha256", "n_records", "time", "shard")
LOCK_WAIT_S = 30.0  # how long the driver waits for a dying worker to let go of its shard


class ShardConflict(InputError):
    """The same unit was committed twice with different records (inputs changed under a run)."""


@dataclass(frozen=True)
class UnitBytes:
    """Where one committed unit's records lie: record file name -> (start, end) byte offsets."""

    run: RunDir
    key: str
    ranges: dict[str, tuple[int, int]]
    info: dict[str, Any]

    def chunks(self) -> dict[str, bytes]:
        """The unit's bytes per record file (read now; ranges are vouched for by the ledger)."""
        out = {}
        for name, (start, end) in self.ranges.items():
            with (self.run.records_dir / name).open("rb") as fh:
                fh.seek(start)
                out[name] = fh.read(end - start)
        return out

    def records(self) -> list[dict[str, Any]]:
        """The unit's records, parsed; checks they re-serialise to the very same bytes."""
        return parse_records(self.key, self.chunks())


def parse_records(key: str, chunks: dict[str, bytes]) -> list[dict[str, Any]]:
    """Records of a unit from its bytes per record file, in file order.

    Raises RuntimeError (a bug) when `record_json` would not write the same bytes back, so a
    merged file can never differ from what the worker wrote.
    """
    records = []
    for name, raw in chunks.items():
        text = raw.decode("utf-8")
        parsed = [json.loads(line) for line in text.splitlines()]
        if "".join(record_json(r) + "\n" for r in parsed) != text:
            raise RuntimeError(f"{name}: records of {key} do not serialise back to their bytes")
        records += parsed
    return records


def committed_units(run: RunDir) -> dict[str, UnitBytes]:
    """Every unit the ledger of `run` vouches for, with its byte ranges (first entry wins)."""
    ends: dict[str, int] = {}
    found: dict[str, UnitBytes] = {}
    for entry in run.ledger():
        ranges = {}
        for name, end in entry.get("offsets", {}).items():
            ranges[name] = (ends.get(name, 0), end)
            ends[name] = end
        info = {k: v for k, v in entry.items() if k not in _LEDGER_OWN}
        found.setdefault(entry["unit"], UnitBytes(run, entry["unit"], ranges, info))
    return found


def ledger_ends(run: RunDir) -> dict[str, int]:
    """End offset of every record file as the ledger of `run` vouches for it."""
    ends: dict[str, int] = {}
    for entry in run.ledger():
        ends.update(entry.get("offsets", {}))
    return ends


def remove_stray_temporaries(run: RunDir) -> list[Path]:
    """Delete temp files an interrupted atomic write left (`.<name>.*.tmp`, see atomicio)."""
    stray = [p for d in (run.path, run.records_dir) if d.is_dir() for p in d.glob(".*.tmp")]
    for path in stray:
        path.unlink(missing_ok=True)
    return stray


def shard_dirs(run: RunDir) -> list[RunDir]:
    """The shard run directories under `run`, sorted by name."""
    root = run.path / SHARDS
    return [RunDir(p) for p in sorted(root.iterdir()) if p.is_dir()] if root.is_dir() else []


def recover_all(run: RunDir, wait_s: float = LOCK_WAIT_S) -> list[RunDir]:
    """Recover the run directory and every shard (torn tails, stray temporaries); list shards.

    Each shard is recovered under its lock: a worker of a killed driver that still writes to it
    is waited for (`wait_s` seconds, then InputError naming its PID). The run directory's lock
    is the caller's (`run_config` holds it for the whole run).
    """
    shards = shard_dirs(run)
    remove_stray_temporaries(run)
    run.recover()
    for shard in shards:
        with ExitStack() as held:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    held.enter_context(shard.locked())
                    break
                except InputError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            remove_stray_temporaries(shard)
            shard.recover()
    return shards


def new_shard_names(run: RunDir, workers: int) -> list[str]:
    """Fresh shard names `a<attempt>-w<i>`: a rerun never appends to an earlier run's shards."""
    names = (re.fullmatch(r"a(\d+)-w\d+", d.path.name) for d in shard_dirs(run))
    attempt = max((int(m.group(1)) for m in names if m), default=0) + 1
    return [f"a{attempt:03d}-w{i}" for i in range(workers)]


@dataclass
class Merger:
    """Copies units from shards into the run directory in plan order.

    `plan` lists unit keys in the serial run's order. `offer` stages units found in shards;
    `advance` commits staged units while the next unit of the plan is staged, already in the run
    directory, or given up (`skip`, a failed unit), and stops at the first unit still missing.
    """

    run: RunDir
    plan: list[str]
    main: dict[str, UnitBytes] = field(init=False)
    staged: dict[str, UnitBytes] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    cursor: int = 0
    dropped: int = 0
    ends: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.main, self.ends = committed_units(self.run), ledger_ends(self.run)

    def _commit(self, unit: UnitBytes) -> None:
        """Append one staged unit to the run directory (its bytes unchanged)."""
        chunks = unit.chunks()
        self.run.commit_unit(
            unit.key, parse_records(unit.key, chunks), **unit.info, shard=unit.run.path.name
        )
        ranges = {}
        for name, raw in chunks.items():
            start = self.ends.get(name, 0)
            ranges[name] = (start, start + len(raw))
            self.ends[name] = start + len(raw)
        self.main[unit.key] = UnitBytes(self.run, unit.key, ranges, unit.info)

    def offer(self, units: Iterable[UnitBytes]) -> None:
        """Stage units from a shard; drop exact duplicates, refuse differing ones."""
        for unit in units:
            known = self.main.get(unit.key) or self.staged.get(unit.key)
            if known is None:
                self.staged[unit.key] = unit
            elif known.chunks() == unit.chunks():
                self.dropped += 1
            else:
                raise ShardConflict(
                    f"unit {unit.key} was committed twice with different records"
                    f" ({known.run.path} and {unit.run.path}); inputs changed during the run:"
                    " remove one of the two shard folders or use a fresh --out",
                    path=unit.run.ledger_path,
                )

    def skip(self, key: str) -> None:
        """Give up a unit for this run (it failed); the cursor moves past it."""
        self.skipped.add(key)

    def done(self) -> set[str]:
        """Keys committed in the run directory or staged from a shard."""
        return set(self.main) | set(self.staged)

    def advance(self) -> list[str]:
        """Commit the staged units that are next in plan order; return their keys."""
        merged = []
        while self.cursor < len(self.plan):
            key = self.plan[self.cursor]
            unit = self.staged.pop(key, None)
            if unit is not None:
                self._commit(unit)
                merged.append(key)
            elif key not in self.main and key not in self.skipped:
                break
            self.cursor += 1
        return merged
