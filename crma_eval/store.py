"""The run directory: atomic writes, kind-separated record files, the resume ledger and a lock.

Records of a collect unit are appended to `records/<kind>.jsonl` in one write; the ledger then
notes the unit with each record file's end offset, the sha256 of the bytes it appended and the
unit's input fingerprint. Before appending, `pending.json` names the unit and each file's size, so
a run killed mid-unit is rolled back to exactly those sizes on resume. Nothing else is ever cut:
a folder whose record files do not match its ledger (an `analyze` output, a copy without its
ledger, replaced files) is refused, never repaired by deleting records.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from crma_eval.atomicio import FULL_DISK, no_space, write_text_atomic
from crma_eval.errors import InputError
from crma_eval.records import record_json, validate_record

__all__ = ["RunDir", "file_sha256", "json_text", "write_json_atomic", "write_text_atomic"]


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's content, read in 1 MiB blocks (provenance and cache keys)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@lru_cache(maxsize=4096)
def _sha256_of_version(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def cached_sha256(path: str | Path) -> str:
    """file_sha256, cached per process: size and mtime in the key make a rewritten file hash
    anew (checkpoint content hashes and unit fingerprints read the same files many times)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _sha256_of_version(str(resolved), stat.st_size, stat.st_mtime_ns)


def _json_safe(value: Any) -> Any:
    """Replace NaN/inf by None so results.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    return value


def json_text(obj: Any) -> str:
    """Strict, indented JSON text (NaN/inf -> null) with a final newline."""
    return json.dumps(_json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write strict JSON (NaN -> null) atomically."""
    return write_text_atomic(path, json_text(obj))


FRESH_OUT = "nothing was changed; use a fresh --out"


@contextmanager
def writing_into(path: str | Path) -> Iterator[None]:
    """Hold RUN_DIR's run.lock while a verb writes into it (gate, report, claims, review,
    rescore); a folder that does not exist is left to the verb to report (nothing created)."""
    if not Path(path).is_dir():
        yield
        return
    with RunDir(path).locked():
        yield


def _fsync_append(path: Path, data: bytes) -> int:
    """Append bytes durably; returns the file's new size. A full disk is exit 2 naming the file."""
    try:
        with path.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            return fh.tell()
    except OSError as exc:
        if exc.errno in FULL_DISK:
            raise no_space(path) from None
        raise


def _ranges(entries: list[dict[str, Any]]) -> Iterator[tuple[int, str, int, int]]:
    """(entry index, file name, start, end) of the bytes each ledger entry appended."""
    ends: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for name, end in entry.get("offsets", {}).items():
            yield i, name, ends.get(name, 0), end
            ends[name] = end


class RunDir:
    """A run directory: records/, ledger.jsonl, run.json, results.json, report.html, run.lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records_dir = self.path / "records"
        self.ledger_path = self.path / "ledger.jsonl"
        self.results_path = self.path / "results.json"
        self.report_path = self.path / "report.html"
        self.pending_path = self.path / "pending.json"
        self.compact_path = self.path / "compact.json"
        self.lock_path = self.path / "run.lock"
        self.logs_dir = self.path / "logs"

    def ensure(self) -> RunDir:
        """Create the folders of the run directory."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        return self

    @contextmanager
    def locked(self) -> Iterator[RunDir]:
        """Hold the run directory's lock (flock on run.lock; a dead holder's lock is free).

        Raises InputError naming the holder's PID when another process holds it.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                raise InputError(
                    f"run directory is in use by PID {holder}; wait for it to finish"
                    " or use another --out",
                    path=self.path,
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            os.close(fd)  # releases the flock

    def record_files(self) -> list[Path]:
        """Every record file of the run, in a stable order."""
        return sorted(self.records_dir.glob("*.jsonl")) if self.records_dir.exists() else []

    def ledger(self) -> list[dict[str, Any]]:
        """Ledger entries of complete units (a torn last line from a kill is ignored)."""
        if not self.ledger_path.exists():
            return []
        entries = []
        for line in self.ledger_path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return entries

    def completed_units(self) -> set[str]:
        """Keys of the units the ledger marks complete."""
        return {e["unit"] for e in self.ledger()}

    def fingerprints(self) -> dict[str, str | None]:
        """Unit key -> the input fingerprint it was collected with (None: an older ledger)."""
        return {e["unit"]: e.get("fp") for e in self.ledger()}

    def recover(self) -> None:
        """Make the folder consistent after a kill, then check it is a run directory of ours.

        Finishes an interrupted compaction, rolls back the unit named in pending.json, drops a
        torn last ledger line. Raises InputError (nothing changed) when record files exist
        without a ledger, or differ from what the ledger vouches for (shorter, longer, replaced).
        """
        self._finish_compaction()
        entries = self.ledger()
        self._roll_back_pending({e["unit"] for e in entries})
        good = "".join(json.dumps(e) + "\n" for e in entries)
        if self.ledger_path.exists() and self.ledger_path.read_text(encoding="utf-8") != good:
            write_text_atomic(self.ledger_path, good)
        self._check_ours(entries)

    def _roll_back_pending(self, completed: set[str]) -> None:
        if not self.pending_path.exists():
            return
        pending = json.loads(self.pending_path.read_text(encoding="utf-8"))
        if pending["unit"] not in completed:
            for name, size in pending["sizes"].items():
                path = self.records_dir / name
                if size == 0:
                    path.unlink(missing_ok=True)
                elif path.exists() and path.stat().st_size > size:
                    with path.open("r+b") as fh:
                        fh.truncate(size)
        self.pending_path.unlink()

    def _check_ours(self, entries: list[dict[str, Any]]) -> None:
        files = {p.name: p for p in self.record_files()}
        if not entries:
            if files or self.results_path.exists():
                raise InputError(
                    "holds records or results but no ledger.jsonl: not a run directory made by"
                    f" `crma-eval run` (an analyze output or a copy?); {FRESH_OUT}",
                    path=self.path,
                )
            return
        content = {name: path.read_bytes() for name, path in files.items()}
        vouched: dict[str, int] = {}
        for i, name, start, end in _ranges(entries):
            vouched[name] = end
            data = content.get(name, b"")
            if len(data) < end:
                raise InputError(
                    f"is shorter ({len(data)} bytes) than the ledger records ({end} bytes):"
                    f" truncated or replaced; {FRESH_OUT}",
                    path=self.records_dir / name,
                )
            want = entries[i].get("sha256", {}).get(name)
            if want is not None and hashlib.sha256(data[start:end]).hexdigest() != want:
                raise InputError(
                    f"records of unit {entries[i]['unit']!r} were changed or replaced; {FRESH_OUT}",
                    path=self.records_dir / name,
                )
        for name, data in content.items():
            if len(data) != vouched.get(name, 0):
                raise InputError(
                    f"holds records no unit of this run wrote (ledger vouches for"
                    f" {vouched.get(name, 0)} of {len(data)} bytes); {FRESH_OUT}",
                    path=self.records_dir / name,
                )

    def commit_unit(
        self, unit: str, records: Iterable[dict[str, Any]], fp: str | None = None, **info: Any
    ) -> int:
        """Validate a unit's records, append them (one write per kind file), mark it complete.

        Raises InputError naming the unit, record index and field when a record is invalid
        (nothing is written then), or the file when the disk is full.
        """
        by_kind: dict[str, list[str]] = {}
        for i, record in enumerate(records, start=1):
            try:
                clean = validate_record(record, path=f"unit {unit}", line=i)
            except InputError as exc:
                raise InputError(
                    f"collector produced an invalid record #{i}: {exc.problem}", field=exc.field
                ) from None
            by_kind.setdefault(clean["kind"], []).append(record_json(record) + "\n")
        self.ensure()
        data = {f"{kind}.jsonl": "".join(lines).encode("utf-8") for kind, lines in by_kind.items()}
        sizes = {n: (self.records_dir / n).stat().st_size if (self.records_dir / n).exists() else 0
                 for n in data}  # fmt: skip
        write_json_atomic(self.pending_path, {"unit": unit, "sizes": sizes})
        ledger_size = self.ledger_path.stat().st_size if self.ledger_path.exists() else 0
        try:
            offsets = {n: _fsync_append(self.records_dir / n, b) for n, b in data.items()}
            entry = {
                "unit": unit,
                "offsets": offsets,
                "sha256": {n: hashlib.sha256(b).hexdigest() for n, b in data.items()},
                "n_records": sum(map(len, by_kind.values())),
                "fp": fp,
            }
            entry.update(info, time=time.time())
            _fsync_append(self.ledger_path, (json.dumps(entry) + "\n").encode("utf-8"))
        except Exception:  # e.g. a full disk: undo the half-written unit before going on
            if self.ledger_path.exists():
                os.truncate(self.ledger_path, ledger_size)
            self._roll_back_pending(set())
            raise
        self.pending_path.unlink()
        return sum(map(len, by_kind.values()))

    def drop_units(self, units: set[str]) -> None:
        """Remove the records and ledger entries of `units` (to recompute them), atomically.

        New record files and ledger are staged as `*.compact`; compact.json is the commit point
        after which a kill is finished forward by `recover`, before it rolled back.
        """
        entries = self.ledger()
        if not units & {e["unit"] for e in entries}:
            return
        content = {p.name: p.read_bytes() for p in self.record_files()}
        kept: dict[str, list[bytes]] = {name: [] for name in content}
        new_ends: dict[str, int] = {}
        new_entries = [dict(e) for e in entries]
        for i, name, start, end in _ranges(entries):
            if entries[i]["unit"] in units:
                continue
            kept[name].append(content[name][start:end])
            new_ends[name] = new_ends.get(name, 0) + end - start
            new_entries[i]["offsets"] = {**new_entries[i]["offsets"], name: new_ends[name]}
        ledger = "".join(json.dumps(e) + "\n" for e in new_entries if e["unit"] not in units)
        for name, chunks in kept.items():
            write_text_atomic(self.records_dir / f"{name}.compact", b"".join(chunks).decode())
        write_text_atomic(self.path / "ledger.jsonl.compact", ledger)
        write_json_atomic(self.compact_path, {"files": sorted(kept)})
        self._finish_compaction()

    def rewrite_records(self, name: str, lines: list[str]) -> None:
        """Replace `records/<name>` by `lines` (one record each, in the file's order and number,
        e.g. re-scored), updating every ledger entry's offsets and sha256 for it, so the run stays
        resumable. Staged and committed like `drop_units` (a kill leaves the old or the new pair).

        Raises ValueError when `lines` does not hold one line per record of the file.
        """
        entries = self.ledger()
        content = (self.records_dir / name).read_bytes()
        new_entries = [dict(e) for e in entries]
        chunks: list[bytes] = []
        used = 0
        for i, fname, start, end in _ranges(entries):
            if fname != name:
                continue
            count = content[start:end].count(b"\n")
            chunk = "".join(lines[used : used + count]).encode("utf-8")
            used += count
            chunks.append(chunk)
            new_entries[i]["offsets"] = {**entries[i]["offsets"], name: sum(map(len, chunks))}
            digest = hashlib.sha256(chunk).hexdigest()
            new_entries[i]["sha256"] = {**entries[i].get("sha256", {}), name: digest}
        records = content.count(b"\n")
        if used != len(lines) or records != len(lines):
            raise ValueError(f"{name}: {len(lines)} lines for {records} records")
        ledger = "".join(json.dumps(e) + "\n" for e in new_entries)
        write_text_atomic(self.records_dir / f"{name}.compact", b"".join(chunks).decode())
        write_text_atomic(self.path / "ledger.jsonl.compact", ledger)
        write_json_atomic(self.compact_path, {"files": [name]})
        self._finish_compaction()

    def _finish_compaction(self) -> None:
        staged = [*self.records_dir.glob("*.compact"), *self.path.glob("ledger.jsonl.compact")]
        if not self.compact_path.exists():
            for path in staged:  # killed before the commit point: roll back
                path.unlink()
            return
        for path in staged:
            target = path.with_suffix("")
            if path.stat().st_size == 0 and target != self.ledger_path:
                target.unlink(missing_ok=True)
                path.unlink()
            else:
                os.replace(path, target)
        self.compact_path.unlink()
