"""The run directory: atomic writes, kind-separated record files and the resume ledger.

Records of a collect unit are appended to `records/<kind>.jsonl` in one write; the ledger then
notes the unit with each record file's end offset. On resume, record files are cut back to the
last offset the ledger vouches for, so a run killed mid-unit never leaves half a unit behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crma_eval.atomicio import write_text_atomic
from crma_eval.records import record_json

__all__ = ["RunDir", "file_sha256", "write_json_atomic", "write_text_atomic"]


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's content, read in 1 MiB blocks (provenance and cache keys)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write strict JSON (NaN -> null) atomically."""
    text = json.dumps(_json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


class RunDir:
    """A run directory: records/, ledger.jsonl, results.json, report.html."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records_dir = self.path / "records"
        self.ledger_path = self.path / "ledger.jsonl"
        self.results_path = self.path / "results.json"
        self.report_path = self.path / "report.html"

    def ensure(self) -> RunDir:
        """Create the folders of the run directory."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        return self

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

    def recover(self) -> None:
        """Cut record files and the ledger back to what complete units wrote (after a kill)."""
        entries = self.ledger()
        ends: dict[str, int] = {}
        for entry in entries:
            ends.update(entry.get("offsets", {}))
        for path in self.record_files():
            size = ends.get(path.name, 0)
            if size == 0:
                path.unlink()
            elif path.stat().st_size > size:
                with path.open("r+b") as fh:
                    fh.truncate(size)
        good = "".join(json.dumps(e) + "\n" for e in entries)
        if self.ledger_path.exists() and self.ledger_path.read_text(encoding="utf-8") != good:
            write_text_atomic(self.ledger_path, good)

    def commit_unit(self, unit: str, records: Iterable[dict[str, Any]], **info: Any) -> int:
        """Append a unit's records (one write per kind file) and mark the unit complete."""
        by_kind: dict[str, list[str]] = {}
        for record in records:
            by_kind.setdefault(record["kind"], []).append(record_json(record) + "\n")
        self.ensure()
        offsets = {}
        for kind, lines in by_kind.items():
            path = self.records_dir / f"{kind}.jsonl"
            with path.open("ab") as fh:
                fh.write("".join(lines).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
                offsets[path.name] = fh.tell()
        entry = {"unit": unit, "offsets": offsets, "n_records": sum(map(len, by_kind.values()))}
        entry.update(info, time=time.time())
        with self.ledger_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return entry["n_records"]
