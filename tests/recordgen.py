"""Builders of small hand-made record files for the plugin tests (written, then loaded back)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crma_eval.api.blocks import Section
from crma_eval.api.plugin import AnalysisResult, Plugin
from crma_eval.records import load_records, write_records
from crma_eval.store import write_json_atomic


def qa(arm: str, domain: str, item_id: str, correct: bool, **extra: Any) -> dict[str, Any]:
    """One qa record."""
    return {
        "kind": "qa",
        "arm": arm,
        "domain": domain,
        "item_id": item_id,
        "correct": correct,
        **extra,
    }


def qa_arm(arm: str, domain: str, outcomes: Sequence[bool], **extra: Any) -> list[dict[str, Any]]:
    """qa records `<domain>-<i>` of one arm and domain with the given correctness."""
    return [qa(arm, domain, f"{domain}-{i}", bool(c), **extra) for i, c in enumerate(outcomes)]


def loss_matrix(
    condition: str,
    seed: int,
    order: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    with_order: bool = True,
) -> list[dict[str, Any]]:
    """loss records of L(p, d) = matrix[p-1][j] for domain order[j]; None cells are left out."""
    records = []
    for p, row in enumerate(matrix, start=1):
        for domain, value in zip(order, row, strict=True):
            if value is None:
                continue
            rec = {
                "kind": "loss",
                "condition": condition,
                "seed": seed,
                "after_phase": p,
                "domain": domain,
                "loss": value,
                "n_tokens": 1000,
            }
            if with_order:
                rec["domain_order"] = list(order)
            records.append(rec)
    return records


def route(
    item_id: str, category: str, gold: str | None, predicted: str | None, score: float
) -> dict[str, Any]:
    """One route record."""
    return {
        "kind": "route",
        "item_id": item_id,
        "category": category,
        "gold": gold,
        "predicted": predicted,
        "score": score,
    }


def spectral(step: int, phase: str, module: str, norm: float, **extra: Any) -> dict[str, Any]:
    """One spectral record."""
    return {
        "kind": "spectral",
        "step": step,
        "phase": phase,
        "module": module,
        "spectral_norm": norm,
        **extra,
    }


def write(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write records as JSON Lines."""
    write_records(path, records)
    return path


def frames(
    tmp_path: Path, records: Iterable[dict[str, Any]], name: str = "records.jsonl"
) -> dict[str, pd.DataFrame]:
    """Write records to tmp_path/name and load them back as the analyze stage would."""
    return load_records([write(tmp_path / name, records)])


def stored(tmp_path: Path, result: AnalysisResult) -> dict[str, Any]:
    """The plugin's results.json entry exactly as written (NaN -> null) and read back."""
    path = write_json_atomic(
        tmp_path / "result.json", {"details": result.details, "methods": result.methods}
    )
    return json.loads(path.read_text())


def section_of(plugin: Plugin, tmp_path: Path, result: AnalysisResult) -> Section | None:
    """The plugin's report section built from its stored (JSON round-tripped) result."""
    return plugin.report_section(stored(tmp_path, result))
