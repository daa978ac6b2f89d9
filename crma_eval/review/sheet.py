"""Export a blinded review sheet of a QA run, and read reviewers' sheets back (strictly).

Sheet columns: review_id, item, question, reference, answer, label, notes. Reviewers fill `label`
with `correct` or `incorrect` (blank = skipped). Arm, condition, checkpoint, domain and scorer
names are not in the sheet; rows are shuffled. The key (item -> record identity, stratum, each
scorer's verdict, the population counts, seed) is RUN_DIR/review/<review_id>.json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crma_eval.csvsafe import read_csv, write_csv
from crma_eval.errors import InputError
from crma_eval.review.keycheck import check_key
from crma_eval.safeload import read_json
from crma_eval.scorers.rescore import read_qa_records
from crma_eval.store import write_json_atomic

KEY_SCHEMA = "crma-eval/qa-review/1"
COLUMNS = ("review_id", "item", "question", "reference", "answer", "label", "notes")
LABELS = {"correct": 1.0, "incorrect": 0.0, "1": 1.0, "0": 0.0, "": float("nan")}
STRATA = ("domain", "arm", "disagreement")
IDENTITY = ("checkpoint", "arm", "domain", "item_id", "seed")


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


def key_path(run_dir: Path, review_id: str) -> Path:
    """Where a review's key lives."""
    return Path(run_dir) / "review" / f"{review_id}.json"


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
    review_id = (
        "qa-" + hashlib.sha256(json.dumps([seed, list(stratify), ids]).encode()).hexdigest()[:12]
    )
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
    write_json_atomic(key_path(run_dir, review_id), key)
    write_csv(out_csv, COLUMNS, rows)
    return key


def read_labels(run_dir: Path, csv_path: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """(key, item -> 1.0 / 0.0 / NaN for blank) of one reviewed sheet; every item exactly once."""
    header, rows = read_csv(csv_path)
    missing = {"review_id", "item", "label"} - set(header)
    if missing:
        raise InputError(f"missing column(s) {', '.join(sorted(missing))}", path=csv_path, line=1)
    key: dict[str, Any] | None = None
    labels: dict[str, float] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row.values()):
            continue  # blank rows a spreadsheet adds at the end
        rid = row["review_id"].strip()
        if key is None:
            path = key_path(run_dir, rid)
            if "/" in rid or "\\" in rid or not path.exists():
                raise InputError(f"unknown review_id {rid!r} (no key {path})", path=csv_path,
                                 line=line, field="review_id")  # fmt: skip
            key = check_key(read_json(path), path)
        if rid != key["review_id"]:
            raise InputError("rows of two reviews in one CSV", path=csv_path, line=line,
                             field="review_id")  # fmt: skip
        item = row["item"].strip()
        if item not in key["items"] or item in labels:
            problem = "appears twice" if item in labels else "is not in this review"
            raise InputError(f"item {item!r} {problem}", path=csv_path, line=line, field="item")
        label = row["label"].strip().lower()
        if label not in LABELS:
            raise InputError(f"unknown label {row['label']!r} (correct, incorrect or blank)",
                             path=csv_path, line=line, field="label")  # fmt: skip
        labels[item] = LABELS[label]
    if key is None:
        raise InputError("no rows", path=csv_path)
    absent = sorted(set(key["items"]) - set(labels))
    if absent:
        raise InputError(f"missing rows: {len(absent)} of {len(key['items'])} items "
                         f"({', '.join(absent[:5])})", path=csv_path)  # fmt: skip
    return key, labels
