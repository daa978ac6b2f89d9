"""Drill-down lists of the bench plugin: the discordant documents of each before/after comparison.

A document is discordant when its 0/1 score differs between the base arm and the compared arm;
these are the documents McNemar's test counts (b: right after only, c: right before only). They
are paired exactly as the analysis pairs them (crma_eval.plugins.bench.analysis.pair_keys on the
task's primary metric and filter, plus seed and checkpoint when the records carry them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from crma_eval import display
from crma_eval.api import Items
from crma_eval.plugins.bench.cells import NO_FILTER, pair_keys, pairing
from crma_eval.plugins.bench.section import delta_id, task_label

TEXT = ("doc_hash", "target", "prediction")
EXTRA_KEYS = ("seed", "checkpoint")


def _side(rows: pd.DataFrame, by_hash: bool, keys: list[str]) -> pd.DataFrame:
    """One arm's documents: pairing key, 0/1 outcome, doc id and texts (absent ones empty)."""
    side = pd.DataFrame({"document": pair_keys(rows, by_hash)}, index=rows.index)
    for key in keys:
        side[key] = rows[key].astype(str)
    side["right"] = rows["value"].astype(float) == 1.0
    side["doc_id"] = rows["doc_id"].astype(str)
    for column in TEXT:
        side[column] = rows.get(column)
    return side


def discordant_documents(
    bench: pd.DataFrame, delta: Mapping[str, Any], opts: Mapping[str, Any]
) -> Items:
    """The documents of one compared (task, metric, filter, arm) whose 0/1 outcome differs from
    the base arm's: which arm got it right, task, doc id and hash, target, both predictions."""
    by_hash = pairing(bench) == "doc_hash"
    filters = bench["filter"].astype(object).fillna(NO_FILTER) if "filter" in bench else NO_FILTER
    cell = bench[
        (bench["task"] == delta["task"])
        & (bench["metric"] == delta["metric"])
        & (pd.Series(filters, index=bench.index) == delta["filter"])
    ]
    keys = [k for k in EXTRA_KEYS if k in cell and cell[k].notna().all()]
    after = _side(cell[cell["arm"] == delta["arm"]], by_hash, keys)
    base = _side(cell[cell["arm"] == delta["base"]], by_hash, keys)
    both = after.merge(base, on=["document", *keys], suffixes=("_a", "_b"))
    flip = both[both["right_a"] != both["right_b"]]
    name_a, name_b = display(opts, delta["arm"]), display(opts, delta["base"])
    right = flip["right_a"].map({True: f"only {name_a}", False: f"only {name_b}"})
    frame = pd.concat(
        [
            right,
            pd.Series(task_label(delta), index=flip.index),
            *(flip[k] for k in keys),
            flip["doc_id_a"],
            flip["doc_hash_a"],
            flip["target_a"],
            flip["prediction_b"],
            flip["prediction_a"],
        ],
        axis=1,
    ).astype(object)
    return Items(
        f"Discordant documents: {task_label(delta)}, {name_a} vs {name_b}",
        [
            "right under",
            "task",
            *keys,
            "doc id",
            "doc hash",
            "target",
            f"{name_b} prediction",
            f"{name_a} prediction",
        ],
        frame.where(frame.notna(), None).to_numpy(object).tolist(),
        note=f"The documents McNemar's test counts: right under one arm only ({delta['metric']}).",
        id=delta_id("discordant", delta),
    )


def group_members(subscores: list[dict[str, Any]], opts: Mapping[str, Any]) -> Items:
    """The sub-groups (each by lm-eval's rule) and subtasks of every group task, per arm."""
    rows = [
        [
            task_label(s),
            s["metric"],
            display(opts, s["arm"]),
            s["level"],
            s["name"],
            s["n"],
            s["score"],
            s.get("method"),
        ]
        for s in subscores
    ]
    return Items(
        "Groups: sub-group and subtask scores",
        ["group (filter)", "metric", "arm", "level", "name", "n", "score", "aggregation"],
        rows,
        note="Sub-groups aggregated by their own aggregate_metric_list (lm-eval's rule); "
        "subtasks: mean over their documents.",
        id="bench-group-members",
    )


def bench_items(
    records: Callable[[str], pd.DataFrame | None], result: dict[str, Any]
) -> list[Items]:
    """The bench plugin's drill-down: discordant documents of every 0/1 before/after comparison,
    and the sub-groups and subtasks of group tasks."""
    opts = result.get("report", {})
    subscores = result["details"].get("subscores")
    members = [group_members(subscores, opts)] if subscores else []
    bench = records("bench")
    if bench is None:
        return members
    deltas = result["details"]["deltas"]
    return [discordant_documents(bench, d, opts) for d in deltas if "b" in d] + members
