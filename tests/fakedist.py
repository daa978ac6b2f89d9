"""What `pip install` of a third-party package leaves behind, in a folder on PYTHONPATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def install(site: Path, module: str, source: str, entry_points: str) -> dict[str, str]:
    """Write `module.py` and its dist-info (with `entry_points.txt`); return an env using it."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / f"{module.replace('_', '-')}-1.0.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}


def cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `crma-eval ARGS` in a fresh interpreter that sees the fake distribution."""
    cmd = [sys.executable, "-m", "crma_eval", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=cwd)
