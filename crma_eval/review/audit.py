"""GSM8K scorer audit, a use of the blinded-review workflow (crma_eval.review.blind): review where
the scorers disagree, and each scorer's agreement with humans.

Export samples every (arm, document) on which the scorers (lm-eval filters such as strict-match,
flexible-extract, crma-corrected) disagree, plus a seeded random share where they agree, into a
blinded sheet without scorer names, in shuffled order. The key (which item is which, each scorer's
verdict, the seed) stays in RUN_DIR/audit/. Reviewed sheets are read back strictly by the
workflow's reader: every item exactly once, every item labelled correct or incorrect.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crma_eval.errors import InputError
from crma_eval.records import load_records
from crma_eval.review.agreement import majority, point_kappas
from crma_eval.review.blind import SheetFormat, read_sheets, sheet_id, write_sheet
from crma_eval.stats import paired_difference_ci, proportion_ci
from crma_eval.store import RunDir, write_json_atomic

KEY_SCHEMA = "crma-eval/gsm8k-audit/1"
STRICT, CORRECTED = "strict-match", "crma-corrected"
METRIC = "exact_match"
CSV_COLUMNS = ("audit_id", "item", "question", "reference", "response", "label", "notes")
# The review sheet's labels (crma_eval.review.sheet): a blank label skips the item, in both.
LABELS = {"correct": 1.0, "incorrect": 0.0, "1": 1.0, "0": 0.0, "": float("nan")}
STRATA = ("agree", "disagree")
HINT = "the audit key does not match what `audit gsm8k --export` writes (edited by hand?)"


def check_audit_key(key: Any, path: Path) -> dict[str, Any]:
    """`key` if it has the shape the review read-back uses; InputError naming `path` and the field
    otherwise (a hand-edited or damaged key is bad input, never an internal error)."""

    def fail(field: str, problem: str) -> InputError:
        return InputError(f"{problem}; {HINT}", path=path, field=field)

    if not isinstance(key, dict):
        raise fail("", "expected a JSON object")
    for field in ("audit_id", "task"):
        if not isinstance(key.get(field), str):
            raise fail(field, "expected a string")
    if not isinstance(key.get("seed"), int) or isinstance(key.get("seed"), bool):
        raise fail("seed", "expected an integer")
    scorers = key.get("scorers")
    if not isinstance(scorers, list) or not all(isinstance(s, str) for s in scorers):
        raise fail("scorers", "expected a list of scorer names")
    items = key.get("items")
    if not isinstance(items, dict) or not items:
        raise fail("items", "expected a non-empty JSON object")
    for name, item in items.items():
        verdicts = item.get("verdicts") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("stratum") not in STRATA:
            raise fail(f"items.{name}.stratum", f"expected one of {', '.join(STRATA)}")
        if not isinstance(verdicts, dict) or any(verdicts.get(s) not in (0, 1) for s in scorers):
            raise fail(f"items.{name}.verdicts", "expected {scorer: 0 or 1} for every scorer")
    return key


AUDIT_SHEET = SheetFormat("audit", "audit", CSV_COLUMNS, LABELS, check_audit_key)


def bench_frame(run_dir: Path) -> pd.DataFrame:
    """The run's bench records (InputError when it has none); `filter` is always a column."""
    files = RunDir(run_dir).record_files()
    frame = load_records(files).get("bench") if files else None
    if frame is None or frame.empty:
        raise InputError(
            "no bench records (run the bench plugin first)", path=Path(run_dir) / "records"
        )
    return frame if "filter" in frame else frame.assign(filter=None)


def choose_task(frame: pd.DataFrame, task: str | None) -> str:
    """The audited task: the given one, else the only task scored by several filters."""
    tasks = list(dict.fromkeys(frame["task"]))
    if task is not None:
        if task not in tasks:
            raise InputError(f"no bench records of task {task!r} (tasks: {', '.join(tasks)})")
        return task
    multi = [t for t in tasks if frame.loc[frame["task"] == t, "filter"].nunique() > 1]
    if len(multi) != 1:
        raise InputError(
            f"name the task to audit with --task (candidates: {', '.join(multi) or 'none'})"
        )
    return multi[0]


def verdicts(frame: pd.DataFrame, task: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per (arm, doc_id): each scorer's 0/1 verdict and the texts a reviewer needs."""
    rows = frame[(frame["task"] == task) & (frame["metric"] == METRIC)]
    if rows.empty:
        raise InputError(f"task {task!r} has no {METRIC} records")
    scorers = list(dict.fromkeys(rows["filter"].dropna()))
    if len(scorers) < 2:
        raise InputError(f"task {task!r} is scored by {len(scorers)} filter(s); an audit needs 2+")
    table = rows.pivot_table(
        index=["arm", "doc_id"], columns="filter", values="value", aggfunc="first"
    )
    incomplete = table[scorers].isna().any(axis=1)
    if incomplete.any():
        arm, doc_id = table.index[int(np.argmax(incomplete))]
        raise InputError(
            f"document {doc_id} of arm {arm!r} is not scored by every filter ({scorers})"
        )
    text_cols = ["question", "target", "response", "doc_hash"]
    texts = rows.reindex(columns=["arm", "doc_id", *text_cols]).groupby(
        ["arm", "doc_id"], sort=False
    )
    items = table[scorers].astype(int).join(texts.first(), how="left")
    return items.reset_index(), scorers


def _select(items: pd.DataFrame, scorers: list[str], n_agree: int, seed: int) -> pd.DataFrame:
    """All disagreements plus `n_agree` random agreements, shuffled (numpy Generator, `seed`)."""
    rng = np.random.default_rng(seed)
    disagree = items[items[scorers].nunique(axis=1) > 1].assign(stratum="disagree")
    agree = items[items[scorers].nunique(axis=1) == 1]
    picked = rng.choice(len(agree), size=min(n_agree, len(agree)), replace=False)
    chosen = pd.concat([disagree, agree.iloc[np.sort(picked)].assign(stratum="agree")])
    return chosen.iloc[rng.permutation(len(chosen))].reset_index(drop=True)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def export_audit(
    run_dir: Path,
    out_csv: Path,
    task: str | None = None,
    n_agree: int = 20,
    seed: int = 0,
    arms: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the blinded review CSV and its key (RUN_DIR/audit/<audit_id>.json); return the key."""
    if n_agree < 0:
        raise InputError(f"--n-agree must be >= 0, got {n_agree}")
    frame = bench_frame(run_dir)
    task = choose_task(frame, task)
    items, scorers = verdicts(frame, task)
    if arms:
        items = items[items["arm"].isin(arms)]
    chosen = _select(items, scorers, n_agree, seed)
    chosen["item"] = [f"item-{i + 1:04d}" for i in range(len(chosen))]
    fingerprint = [task, seed, n_agree, list(arms), chosen["doc_hash"].map(_text).tolist()]
    audit_id = sheet_id("gsm8k", fingerprint)
    key = {
        "schema": KEY_SCHEMA,
        "audit_id": audit_id,
        "task": task,
        "seed": seed,
        "n_agree": n_agree,
        "arms": sorted(set(chosen["arm"])),
        "scorers": scorers,
        "population": {
            "items": len(items),
            "disagree": int((items[scorers].nunique(axis=1) > 1).sum()),
        },
        "items": {
            r["item"]: {
                "arm": r["arm"],
                "doc_id": str(r["doc_id"]),
                "doc_hash": _text(r["doc_hash"]),
                "stratum": r["stratum"],
                "verdicts": {s: int(r[s]) for s in scorers},
            }
            for _, r in chosen.iterrows()
        },
    }
    rows = [
        [
            audit_id,
            r["item"],
            _text(r["question"]),
            _text(r["target"]),
            _text(r["response"]),
            "",
            "",
        ]
        for _, r in chosen.iterrows()
    ]
    write_sheet(run_dir, AUDIT_SHEET, key, rows, out_csv)
    return key


def review_path(run_dir: Path, audit_id: str) -> Path:
    """Where the summary of an audit's reviews is saved (strict JSON)."""
    return Path(run_dir) / "audit" / f"{audit_id}-review.json"


def _agreement(
    key: dict[str, Any],
    items: list[str],
    human: np.ndarray,
    scorer: str,
    confidence: float,
    method: str,
) -> dict[str, Any]:
    """How often a scorer's verdict equals the human label (ties left out), overall and split."""
    out: dict[str, Any] = {}
    for part, keep in (("all", None), ("disagree", "disagree")):
        chosen = [
            j
            for j, i in enumerate(items)
            if human[j] >= 0 and (keep is None or key["items"][i]["stratum"] == keep)
        ]
        k = sum(key["items"][items[j]]["verdicts"][scorer] == human[j] for j in chosen)
        n = len(chosen)
        low, high = proportion_ci(k, n, confidence, method) if n else (float("nan"),) * 2
        out[part] = {
            "k": int(k),
            "n": n,
            "agreement": k / n if n else float("nan"),
            "ci_low": low,
            "ci_high": high,
        }
    return out


def scorer_deltas(frame: pd.DataFrame, task: str, confidence: float) -> dict[str, Any]:
    """Over all documents: corrected − strict accuracy per arm, and after − base per scorer (pp)."""
    items, scorers = verdicts(frame, task)
    if not {STRICT, CORRECTED} <= set(scorers):
        return {}
    arms = list(dict.fromkeys(items["arm"]))
    base = "base" if "base" in arms else arms[0]
    out: dict[str, Any] = {"base_arm": base, "corrected_minus_strict": {}, "after_minus_base": {}}
    for arm in arms:
        mine = items[items["arm"] == arm]
        diff = paired_difference_ci(
            mine[CORRECTED].astype(bool), mine[STRICT].astype(bool), confidence
        )
        out["corrected_minus_strict"][arm] = {"n": len(mine), **_pp(diff)}
    by_arm = {arm: items[items["arm"] == arm].set_index("doc_hash") for arm in arms}
    for arm in arms:
        if arm == base or set(by_arm[arm].index) != set(by_arm[base].index):
            continue
        after, before = by_arm[arm], by_arm[base].reindex(by_arm[arm].index)
        out["after_minus_base"][arm] = {
            s: _pp(paired_difference_ci(after[s].astype(bool), before[s].astype(bool), confidence))
            for s in scorers
        }
    return out


def _pp(diff: Any) -> dict[str, float]:
    return {
        "delta_pp": 100 * diff.estimate,
        "ci_low_pp": 100 * diff.low,
        "ci_high_pp": 100 * diff.high,
    }


def review_audit(
    run_dir: Path, csv_paths: Sequence[Path], confidence: float = 0.95, ci_method: str = "wilson"
) -> dict[str, Any]:
    """Each scorer's agreement with the human labels (Wilson CI), kappas, scorer deltas; saved."""
    key, items, matrix = read_sheets(run_dir, AUDIT_SHEET, csv_paths)
    human = majority(matrix)
    summary = {
        "audit_id": key["audit_id"],
        "task": key["task"],
        "seed": key["seed"],
        "reviewers": [str(p) for p in csv_paths],
        "items": len(items),
        "ties": int((human == -1).sum()),
        "unlabelled": int((human == -2).sum()),  # every rater left the label blank
        "confidence": confidence,
        "ci_method": ci_method,
        "scorers": {
            s: _agreement(key, items, human, s, confidence, ci_method) for s in key["scorers"]
        },
        "kappa": point_kappas(matrix),
        "deltas": scorer_deltas(bench_frame(run_dir), key["task"], confidence),
    }
    write_json_atomic(review_path(run_dir, key["audit_id"]), summary)
    return summary
