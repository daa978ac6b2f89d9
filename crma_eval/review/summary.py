"""`crma-eval review import`: agreement between reviewers, scorers vs humans, corrected accuracy.

Output (also saved as RUN_DIR/review/<review_id>-summary.json): n_items, n_raters,
krippendorff_alpha (and its bootstrap interval), cohen / fleiss kappas with bootstrap intervals,
per scorer the agreement with the human majority (k/n, Wilson or the chosen CI), and per
(arm, domain) the reviewed-sample accuracy (human majority) and the corrected full-set estimate
(crma_eval.review.estimate).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crma_eval.review.agreement import agreement_summary, majority
from crma_eval.review.blind import read_sheets
from crma_eval.review.estimate import corrected_accuracy
from crma_eval.review.sheet import QA_SHEET
from crma_eval.stats import proportion_ci
from crma_eval.store import write_json_atomic


def _share(k: int, n: int, confidence: float, method: str) -> dict[str, Any]:
    low, high = proportion_ci(k, n, confidence, method) if n else (float("nan"),) * 2
    return {"k": k, "n": n, "rate": k / n if n else float("nan"), "ci_low": low, "ci_high": high}


def _scorers(key: dict[str, Any], items: list[str], human: np.ndarray, conf: float, method: str
             ) -> dict[str, Any]:  # fmt: skip
    names = dict.fromkeys(n for i in items for n in key["items"][i]["verdicts"])
    out = {}
    for name in names:
        pairs = [
            (key["items"][i]["verdicts"].get(name), h) for i, h in zip(items, human, strict=True)
        ]
        used = [(v, h) for v, h in pairs if v is not None and h >= 0]
        out[name] = _share(sum(int(v) == h for v, h in used), len(used), conf, method)
    return out


def _accuracy(key: dict[str, Any], items: list[str], human: np.ndarray, conf: float, method: str
              ) -> list[dict[str, Any]]:  # fmt: skip
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell_name, cell in key["cells"].items():
        groups.setdefault((cell["arm"], cell["domain"]), []).append({**cell, "name": cell_name})
    rows = []
    for (arm, domain), cells in groups.items():
        mine = [(key["items"][i], h) for i, h in zip(items, human, strict=True) if h >= 0]
        for cell in cells:
            cell["diffs"] = [h - int(it["correct"]) for it, h in mine if it["cell"] == cell["name"]]
        labelled = [h for it, h in mine if it["cell"] in {c["name"] for c in cells}]
        rows.append({
            "arm": arm, "domain": domain,
            "reviewed": _share(int(sum(labelled)), len(labelled), conf, method),
            "auto_accuracy": sum(c["auto_correct"] for c in cells) / sum(c["N"] for c in cells),
            "corrected": corrected_accuracy(cells, conf),
        })  # fmt: skip
    return rows


def review_summary(
    run_dir: Path,
    csv_paths: Sequence[Path],
    confidence: float = 0.95,
    ci_method: str = "wilson",
    resamples: int = 1000,
) -> dict[str, Any]:
    """Read every reviewer's sheet of one review and summarise; saved next to the key."""
    key, items, matrix = read_sheets(run_dir, QA_SHEET, csv_paths)
    human = majority(matrix)
    agreement = agreement_summary(matrix, confidence, key["seed"], resamples)
    summary = {
        "review_id": key["review_id"],
        "n_items": len(items),
        "n_raters": len(matrix),
        "n_labels": int((~np.isnan(matrix)).sum()),
        "ties": int((human == -1).sum()),
        "unlabelled": int((human == -2).sum()),
        "krippendorff_alpha": agreement["krippendorff_alpha"]["estimate"],
        "agreement": agreement,
        "confidence": confidence,
        "ci_method": ci_method,
        "scorers_vs_humans": _scorers(key, items, human, confidence, ci_method),
        "accuracy": _accuracy(key, items, human, confidence, ci_method),
        "reviewers": [str(p) for p in csv_paths],
    }
    write_json_atomic(Path(run_dir) / "review" / f"{key['review_id']}-summary.json", summary)
    return summary


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as one strict-JSON object (NaN written as null)."""
    from crma_eval.store import _json_safe

    return json.dumps(_json_safe(summary), indent=2)
