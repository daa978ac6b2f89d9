"""Outputs derived from RUN_DIR/results.json, and the fingerprint that ties them to it.

`gate` writes gate.json, junit.xml, summary.md (summary-full.md); `claims` writes claims.json;
the report writes report.html, tables/ and items/; `compare RUN_A RUN_B` writes RUN_B/compare/.
Each holds numbers of the results.json it was made from, so when `analyze` (also under `run` and
`rescore`) writes a new results.json, `drop_stale` removes them: a later `report` (or
`run`/`analyze` without `--no-report`) renders a new report.html, and with `--no-report` the
folder holds no report rather than an old one. gate.json and claims.json also record
`results_sha256` (`results_fingerprint`); the report shows them only while it matches the
current results.json (`is_current`), so a results.json replaced by other means never shows an
older gate or claims verdict.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from crma_eval.store import file_sha256

DERIVED_FILES = (
    "report.html",
    "gate.json",
    "junit.xml",
    "summary.md",
    "summary-full.md",
    "claims.json",
)
DERIVED_FOLDERS = ("tables", "items", "compare")
FINGERPRINT = "results_sha256"


def results_fingerprint(run_dir: str | Path) -> str | None:
    """sha256 of RUN_DIR/results.json, None when there is none."""
    path = Path(run_dir) / "results.json"
    return file_sha256(path) if path.is_file() else None


def is_current(doc: dict[str, Any], run_dir: str | Path) -> bool:
    """True when `doc` (gate.json, claims.json) was made from the current results.json; a doc
    from before fingerprints were recorded (no `results_sha256`) counts as current."""
    recorded = doc.get(FINGERPRINT)
    return recorded is None or recorded == results_fingerprint(run_dir)


def drop_stale(run_dir: str | Path) -> list[str]:
    """Remove RUN_DIR's outputs derived from an earlier results.json; returns their names."""
    root = Path(run_dir)
    dropped = []
    for name in DERIVED_FILES:
        path = root / name
        if path.is_file():
            path.unlink()
            dropped.append(name)
    for name in DERIVED_FOLDERS:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            dropped.append(f"{name}/")
    return dropped
