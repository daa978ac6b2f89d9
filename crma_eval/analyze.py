"""The analyze stage: records -> every plugin's statistics -> results.json (pure, no models)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from crma_eval.api.catalogue import MetricInfo, complete
from crma_eval.api.plugin import AnalyzeOptions, Plugin
from crma_eval.api.registry import plugins as installed_plugins
from crma_eval.atomicio import write_all_atomic
from crma_eval.derived import drop_stale
from crma_eval.errors import InputError
from crma_eval.naming import NAME_FIELDS, slug_collisions
from crma_eval.record_formats import is_plain_jsonl
from crma_eval.records import SOURCE_COLUMNS, load_records, record_json
from crma_eval.results import RESULTS_SCHEMA
from crma_eval.store import RunDir, file_sha256, json_text
from crma_eval.versions import library_versions


def _seeds(frames: dict[str, pd.DataFrame]) -> list[Any]:
    seeds: set[Any] = set()
    for frame in frames.values():
        if "seed" in frame.columns:
            seeds.update(int(s) for s in frame["seed"].dropna().unique())
    return sorted(seeds)


def _declared(given: Any, metrics: dict[str, float]) -> dict[str, MetricInfo]:
    """A plugin's catalogue entries for its own metrics; entries given as JSON mappings are read,
    unreadable ones dropped (those metrics then get fallback entries, never a crash)."""
    out: dict[str, MetricInfo] = {}
    for name, entry in (given or {}).items() if isinstance(given, dict) else ():
        if name not in metrics:
            continue
        try:
            out[name] = entry if isinstance(entry, MetricInfo) else MetricInfo.from_json(entry)
        except (TypeError, ValueError, AttributeError):
            continue
    return out


def check_slugs(frames: dict[str, pd.DataFrame]) -> None:
    """InputError naming both names (and where the second is) when two distinct values of one
    name field (arm, domain, condition, ...) map to one metric-name segment."""
    for kind, frame in frames.items():
        for column in (c for c in NAME_FIELDS if c in frame.columns):
            values = frame[column].dropna()
            values = values[values.map(lambda v: isinstance(v, str))]
            for first, second, segment in slug_collisions(values):
                row = frame[frame[column].map(lambda v, s=second: str(v).strip() == s)].iloc[0]
                loc = {"path": row["_file"], "line": int(row["_line"])} if "_file" in row else {}
                raise InputError(
                    f"{kind} records: the {column} names {first!r} and {second!r} both map to "
                    f"the metric-name segment {segment!r}; rename one of them (README: metric "
                    "names)",
                    field=column,
                    **loc,
                )


def analyze_frames(
    frames: dict[str, pd.DataFrame],
    options: AnalyzeOptions,
    plugins: dict[str, Plugin] | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Run every plugin whose record kinds are present; return the results.json document.

    partial: a plugin whose analysis raises InputError is listed in meta.failures
    ({stage: analyze, plugin, unit: None, problem}) and the others still count; otherwise the
    InputError propagates.
    """
    plugins = installed_plugins() if plugins is None else plugins
    check_slugs(frames)
    metrics: dict[str, float] = {}
    info: dict[str, MetricInfo] = {}
    entries: dict[str, Any] = {}
    methods: dict[str, dict[str, str]] = {}
    failures: list[dict[str, Any]] = []
    for name, plugin in plugins.items():
        if not any(kind in frames for kind in plugin.kinds):
            continue
        try:
            result = plugin.analyze(frames, options)
        except InputError as exc:
            if not partial:
                raise
            problem = exc.one_line()
            failures.append({"unit": None, "problem": problem, "plugin": name, "stage": "analyze"})
            continue
        if result is None:
            continue
        metrics.update(result.metrics)
        info.update(_declared(result.metric_info, result.metrics))
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
            "failures": failures,
            "versions": library_versions(),
            "methods": methods,
            "metric_info": {m: e.to_json() for m, e in sorted(complete(metrics, info).items())},
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


def _kind_text(frame: pd.DataFrame, raw: dict[str, list[bytes]], verbatim: bool) -> str:
    """One kind's records as JSON Lines: plain JSONL lines byte for byte (when `verbatim`),
    rows of other formats (CSV, JSON arrays, gzip, Parquet) re-encoded.

    Copying the source lines keeps every value exactly (full float precision) and is fast.
    """
    chunks: list[str] = []
    for path, group in frame.groupby("_file", sort=False):
        if not (verbatim and is_plain_jsonl(Path(str(path)))):
            rows = group.drop(columns=list(SOURCE_COLUMNS)).to_dict("records")
            chunks.extend(record_json(r) + "\n" for r in rows)
            continue
        lines = raw.setdefault(path, Path(path).read_bytes().splitlines())
        chunks.append(b"".join(lines[i - 1] + b"\n" for i in group["_line"]).decode("utf-8"))
    return "".join(chunks)


def _record_copies(
    frames: dict[str, pd.DataFrame], run: RunDir, verbatim: bool = True
) -> dict[Path, str]:
    """The analysed records as records/<kind>.jsonl texts (for drill-down and gates)."""
    raw: dict[str, list[bytes]] = {}
    return {run.records_dir / f"{k}.jsonl": _kind_text(f, raw, verbatim) for k, f in frames.items()}


def analyze_paths(
    paths: list[Path],
    out_dir: str | Path,
    options: AnalyzeOptions | None = None,
    meta: dict[str, Any] | None = None,
    partial: bool = False,
    kind: str | None = None,
) -> Path:
    """Analyze record files into OUT_DIR/results.json (+ records/ copies of the inputs).

    Every output is staged first and renamed only when all were written, so bad input, a failing
    record copy or a full disk (InputError naming the file) leaves earlier outputs intact.
    partial: see `analyze_frames`; failures already in meta["failures"] are kept first.
    kind: the record kind of files without a `kind` column.
    Outputs derived from an earlier results.json (gate.json, junit.xml, summary.md, claims.json,
    tables/, items/) are removed when results.json changes (crma_eval.derived.drop_stale).
    """
    started = time.perf_counter()
    options = options or AnalyzeOptions()
    frames = load_records(paths, kind)
    results = analyze_frames(frames, options, partial=partial)
    run = RunDir(out_dir)
    resolved = {p.resolve() for p in run.record_files()}
    copies = (
        {}
        if {Path(p).resolve() for p in paths} == resolved
        else _record_copies(frames, run, kind is None)
    )
    meta = dict(meta or {})
    failures = [*meta.pop("failures", []), *results["meta"]["failures"]]
    results["meta"].update(meta, failures=failures)
    results["meta"]["inputs"] = [{"path": str(p), "sha256": file_sha256(p)} for p in paths]
    results["meta"]["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["meta"]["wall_time_s"] = round(time.perf_counter() - started, 3)
    results["meta"]["argv"] = sys.argv[1:]
    text = json_text(results)
    previous = run.results_path.read_text(encoding="utf-8") if run.results_path.is_file() else None
    write_all_atomic({**copies, run.results_path: text})
    if previous != text:  # gate.json, claims.json, tables/ ... describe the old results
        drop_stale(run.path)
    if copies:  # records/ must match results.json: drop copies of kinds not analysed now
        for path in run.record_files():
            if path not in copies:
                path.unlink()
    return run.results_path
