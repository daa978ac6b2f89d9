"""`crma-eval rescore RUN_DIR --scorers NAME[,NAME...]`: re-score a run's QA records, no model.

Reads RUN_DIR/records/qa.jsonl, adds (or refreshes) the named scorers' values in each record's
`scores` while keeping every other scorer's earlier value, optionally changes the primary scorer,
writes the file atomically (with the ledger's offsets and sha256, so the run stays resumable),
appends the scoring summary to RUN_DIR/scoring.json, then re-runs the
analysis (results.json, with `scoring` in meta) and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.collect.data import read_jsonl
from crma_eval.errors import InputError
from crma_eval.records import record_json
from crma_eval.results import load_results
from crma_eval.safeload import read_json
from crma_eval.scorers.apply import score_records
from crma_eval.scorers.config import ScorersConfig
from crma_eval.store import RunDir, write_json_atomic, write_text_atomic
from crma_eval.yamlio import YamlDoc

KEPT_META = ("config_hash", "config", "failures")


class _ScorersFile(BaseModel):
    """A run config or a small file: only its `scorers:` section is read."""

    model_config = ConfigDict(extra="ignore")
    scorers: ScorersConfig = Field(default_factory=ScorersConfig)


def load_scorers_config(path: str | Path | None) -> ScorersConfig:
    """The `scorers:` section of a YAML file (defaults without a file); errors name the line."""
    if path is None:
        return ScorersConfig()
    loaded: _ScorersFile = YamlDoc(path).validate(_ScorersFile)
    return loaded.scorers


def read_qa_records(path: Path) -> list[dict[str, Any]]:
    """The qa records of one JSONL file, as written (InputError naming the line if not JSON)."""
    if not path.exists():
        raise InputError("no QA records (run the qa plugin first)", path=path)
    return [record for _, record in read_jsonl(path, ("domain",))]


def _previous(run: RunDir) -> tuple[AnalyzeOptions, dict[str, Any]]:
    """Analysis options and the meta entries to keep, from the existing results.json."""
    if not run.results_path.exists():
        return AnalyzeOptions(), {}
    meta = load_results(run.path)["meta"]
    opts = meta.get("options", {})
    options = AnalyzeOptions(
        opts.get("confidence", 0.95),
        opts.get("ci_method", "wilson"),
        opts.get("mcnemar_method", "exact"),
        opts.get("seed", 0),
    )
    return options, {k: meta[k] for k in KEPT_META if k in meta}


def rescore(
    run_dir: str | Path,
    names: Sequence[str],
    primary: str | None = None,
    config_path: str | Path | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Re-score RUN_DIR's qa records with `names`; returns the scoring summary (JSON form).

    A run directory of `crma-eval run` is held locked, and its ledger (offsets, sha256) is
    updated atomically with the records: a later `run` into it resumes.
    """
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise InputError("run directory not found", path=run.path)
    if not names:
        raise InputError("name at least one scorer with --scorers")
    config = load_scorers_config(config_path)
    with run.locked():  # a live `run` or another rescore holds it: "in use by PID N"
        return _rescore_locked(run, names, primary, config, report)


def _rescore_locked(
    run: RunDir, names: Sequence[str], primary: str | None, config: ScorersConfig, report: bool
) -> dict[str, Any]:
    """rescore's work; a `crma-eval run` folder (with a ledger) is recovered first and its
    ledger rewritten with the records, so a later `run` resumes instead of recollecting."""
    from crma_eval.analyze import analyze_paths

    resumable = run.ledger_path.exists()
    if resumable:
        run.recover()
    qa_path = run.records_dir / "qa.jsonl"
    records = read_qa_records(qa_path)
    summary = score_records(
        records, config, names, primary, config_primary="primary" in config.model_fields_set
    )
    lines = [record_json(r) + "\n" for r in records]
    if resumable:
        run.rewrite_records(qa_path.name, lines)
    else:
        write_text_atomic(qa_path, "".join(lines))
    done = summary.to_dict() | {"rescored": list(names), "primary": primary}
    history_path = run.path / "scoring.json"
    history = read_json(history_path) if history_path.exists() else []
    if not isinstance(history, list):
        raise InputError("expected a JSON array (edited by hand?)", path=history_path)
    write_json_atomic(history_path, [*history, done])
    options, kept = _previous(run)
    analyze_paths(run.record_files(), run.path, options, meta=kept | {"scoring": done})
    if report:
        from crma_eval.report.render import render_report

        render_report(run.path)
    return done
