"""The QA use of the blinded-review workflow (crma_eval.review.blind): a sheet of a run's answers.

Sheet columns: review_id, item, question, reference, answer, label, notes. Reviewers fill `label`
with `correct` or `incorrect` (blank = skipped). Arm, condition, checkpoint, domain and scorer
names are not in the sheet; rows are shuffled. The key (item -> record identity, stratum, each
scorer's verdict, the population counts, seed) is RUN_DIR/review/<review_id>.json.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crma_eval.errors import InputError
from crma_eval.review.blind import SheetFormat, sheet_id, write_sheet
from crma_eval.review.keycheck import check_key
from crma_eval.scorers.rescore import read_qa_records

KEY_SCHEMA = "crma-eval/qa-review/1"
COLUMNS = ("review_id", "item", "question", "reference", "answer", "label", "notes")
LABELS = {"correct": 1.0, "incorrect": 0.0, "1": 1.0, "0": 0.0, "": float("nan")}
STRATA = ("domain", "arm", "disagreement")
IDENTITY = ("checkpoint", "arm", "domain", "item_id", "seed")
QA_SHEET = SheetFormat("review", "review", COLUMNS, LABELS, check_key)


def disagree(record: dict[str, Any]) -> bool:
    """Whether the record's scorers (non-abstaining) gave different verdicts."""
    values = {v for v in (record.get("verdicts") or {}).values() if v is not None}
    return len(values) > 1


def _stratum(record: dict[str, Any], keys: Sequence[str]) -> str:
    parts = [
        f"disagree={disagree(record)}" if k == "disagreement" else str(record[k]) for k in keys
    ]
    return "|".join(parts) or "all"


def _allocate(strata: dict[str, list[int]], n: int, rng: np.random.Generator) -> list[int]:
    """Equal allocation across strata (round robin in a seeded order), capped by stratum size."""
    pools = {s: list(rng.permutation(idx)) for s, idx in strata.items()}
    order = list(rng.permutation(sorted(pools)))
    chosen: list[int] = []
    while len(chosen) < n and any(pools.values()):
        for s in order:
            if pools[s] and len(chosen) < n:
                chosen.append(int(pools[s].pop()))
    return chosen


def _cells(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Population per (arm, domain, disagreement): N and auto-correct count (for estimates)."""
    cells: dict[str, dict[str, Any]] = {}
    for r in records:
        cell = cells.setdefault(
            _cell_name(r), {"arm": r["arm"], "domain": r["domain"], "disagree": disagree(r),
                            "N": 0, "auto_correct": 0}
        )  # fmt: skip
        cell["N"] += 1
        cell["auto_correct"] += int(bool(r.get("correct")))
    return cells


def _cell_name(r: dict[str, Any]) -> str:
    return json.dumps([r["arm"], r["domain"], disagree(r)])


def export_review(
    run_dir: Path, out_csv: Path, n: int = 100, seed: int = 0, stratify: Sequence[str] = ("domain",)
) -> dict[str, Any]:
    """Write the blinded sheet and its key; return the key. InputError on bad options."""
    bad = [s for s in stratify if s not in STRATA]
    if bad or n < 1:
        raise InputError(
            f"--stratify takes {', '.join(STRATA)} and --n must be >= 1 (got {bad or n})"
        )
    records = read_qa_records(Path(run_dir) / "records" / "qa.jsonl")
    rng = np.random.default_rng(seed)
    strata: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        strata.setdefault(_stratum(r, stratify), []).append(i)
    chosen = _allocate(strata, n, rng)
    chosen = [chosen[j] for j in rng.permutation(len(chosen))]
    ids = [[records[i].get(k) for k in IDENTITY] for i in chosen]
    review_id = sheet_id("qa", [seed, list(stratify), ids])
    items = {}
    for pos, i in enumerate(chosen, 1):
        r = records[i]
        items[f"item-{pos:04d}"] = {
            "record": {k: r.get(k) for k in IDENTITY},
            "stratum": _stratum(r, stratify),
            "cell": _cell_name(r),
            "correct": bool(r.get("correct")),
            "verdicts": r.get("verdicts") or {},
        }
    key = {
        "schema": KEY_SCHEMA, "review_id": review_id, "seed": seed, "n": n,
        "stratify": list(stratify),
        "strata": {s: {"N": len(idx), "n": sum(items[k]["stratum"] == s for k in items)}
                   for s, idx in strata.items()},
        "cells": _cells(records), "items": items,
    }  # fmt: skip
    rows = [
        [review_id, item, records[i].get("question"), records[i].get("reference"),
         records[i].get("prediction"), "", ""]
        for item, i in zip(items, chosen, strict=True)
    ]  # fmt: skip
    write_sheet(run_dir, QA_SHEET, key, rows, out_csv)
    return key
