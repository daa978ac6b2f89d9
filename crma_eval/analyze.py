"""The analyze stage: records -> every plugin's statistics -> results.json (pure, no models)."""

from __future__ import annotations

import platform
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from crma_eval import __version__
from crma_eval.plugins.base import AnalyzeOptions, Plugin
from crma_eval.records import SOURCE_COLUMNS, load_records, record_json
from crma_eval.registry import plugins as installed_plugins
from crma_eval.store import (
    RESULTS_SCHEMA,
    RunDir,
    file_sha256,
    write_json_atomic,
    write_text_atomic,
)

VERSIONED = (
    "torch", "transformers", "peft", "lm_eval", "datasets", "numpy", "pandas", "scipy",
    "statsmodels", "scikit-learn", "pydantic",
)  # fmt: skip


def versions() -> dict[str, str | None]:
    """Versions that can change a number (read from metadata: importing torch is not needed)."""
    found: dict[str, str | None] = {"crma_eval": __version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _seeds(frames: dict[str, pd.DataFrame]) -> list[Any]:
    seeds: set[Any] = set()
    for frame in frames.values():
        if "seed" in frame.columns:
            seeds.update(int(s) for s in frame["seed"].dropna().unique())
    return sorted(seeds)


def analyze_frames(
    frames: dict[str, pd.DataFrame],
    options: AnalyzeOptions,
    plugins: dict[str, Plugin] | None = None,
) -> dict[str, Any]:
    """Run every plugin whose record kinds are present; return the results.json document."""
    plugins = installed_plugins() if plugins is None else plugins
    metrics: dict[str, float] = {}
    entries: dict[str, Any] = {}
    methods: dict[str, dict[str, str]] = {}
    for name, plugin in plugins.items():
        if not any(kind in frames for kind in plugin.kinds):
            continue
        result = plugin.analyze(frames, options)
        if result is None:
            continue
        metrics.update(result.metrics)
        entries[name] = {"details": result.details, "methods": result.methods}
        if result.skipped:
            entries[name]["skipped"] = result.skipped
            print(f"crma-eval: {name}: skipped: {result.skipped}", file=sys.stderr)
        methods[name] = result.methods
    return {
        "schema": RESULTS_SCHEMA,
        "metrics": dict(sorted(metrics.items())),
        "plugins": entries,
        "meta": {
            "versions": versions(),
            "methods": methods,
            "seeds": _seeds(frames),
            "record_counts": {kind: len(f) for kind, f in frames.items()},
            "options": {
                "confidence": options.confidence,
                "ci_method": options.ci_method,
                "mcnemar_method": options.mcnemar_method,
                "seed": options.seed,
            },
        },
    }


def _kind_text(frame: pd.DataFrame, raw: dict[str, list[bytes]]) -> str:
    """One kind's records as JSON Lines: JSONL lines byte for byte, Parquet rows re-encoded.

    Copying the source lines keeps every value exactly (full float precision) and is fast.
    """
    chunks: list[str] = []
    for path, group in frame.groupby("_file", sort=False):
        if str(path).endswith(".parquet"):
            rows = group.drop(columns=list(SOURCE_COLUMNS)).to_dict("records")
            chunks.extend(record_json(r) + "\n" for r in rows)
            continue
        lines = raw.setdefault(path, Path(path).read_bytes().splitlines())
        chunks.append(b"".join(lines[i - 1] + b"\n" for i in group["_line"]).decode("utf-8"))
    return "".join(chunks)


def _copy_records(frames: dict[str, pd.DataFrame], run: RunDir) -> None:
    """Write the analysed records into records/<kind>.jsonl (for drill-down and gates).

    Copies of kinds that this analysis did not see are removed: records/ must match results.json.
    """
    raw: dict[str, list[bytes]] = {}
    for kind, frame in frames.items():
        write_text_atomic(run.records_dir / f"{kind}.jsonl", _kind_text(frame, raw))
    for path in run.record_files():
        if path.stem not in frames:
            path.unlink()


def analyze_paths(
    paths: list[Path],
    out_dir: str | Path,
    options: AnalyzeOptions | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Analyze record files into OUT_DIR/results.json; nothing is written if any input is bad."""
    started = time.perf_counter()
    options = options or AnalyzeOptions()
    frames = load_records(paths)
    results = analyze_frames(frames, options)
    run = RunDir(out_dir)
    resolved = {p.resolve() for p in run.record_files()}
    if {Path(p).resolve() for p in paths} != resolved:
        _copy_records(frames, run.ensure())
    results["meta"].update(meta or {})
    results["meta"]["inputs"] = [{"path": str(p), "sha256": file_sha256(p)} for p in paths]
    results["meta"]["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["meta"]["wall_time_s"] = round(time.perf_counter() - started, 3)
    results["meta"]["argv"] = sys.argv[1:]
    return write_json_atomic(run.results_path, results)
