"""Drill-down lists of the ablation plugin: the discordant items of every compared pair of arms."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from crma_eval import Items, display, item_rows, optional_column

TEXT = ("question_a", "reference_a", "prediction_a", "prediction_b")
PAIR_KEYS = ("domain", "item_id", "seed", "checkpoint")


def discordant(qa: pd.DataFrame, a: str, b: str, opts: Mapping[str, Any]) -> Items:
    """Items arms a and b answered differently (matched on domain, item_id, seed, checkpoint)."""
    keys = [k for k in PAIR_KEYS if k in qa]
    left = qa[qa["arm"] == a].set_index(keys)
    right = qa[qa["arm"] == b].set_index(keys)
    both = left.merge(right, left_index=True, right_index=True, suffixes=("_a", "_b"))
    flip = both[both["correct_a"].astype(bool) != both["correct_b"].astype(bool)].reset_index()
    name_a, name_b = display(opts, a), display(opts, b)
    right_under = (
        flip["correct_a"].astype(bool).map({True: f"only {name_a}", False: f"only {name_b}"})
    )
    columns = [right_under, flip["domain"], optional_column(flip, "seed"), flip["item_id"]]
    return Items(
        f"Discordant items: {name_a} vs {name_b}",
        [
            "right under",
            "domain",
            "seed",
            "item",
            "question",
            "reference",
            f"{name_a} output",
            f"{name_b} output",
        ],
        item_rows([*columns, *(optional_column(flip, c) for c in TEXT)]),
        note="The items McNemar's test counts: right under one arm only.",
        id=f"discordant-{a}-vs-{b}",
    )


def ablation_items(
    records: Callable[[str], pd.DataFrame | None], result: dict[str, Any]
) -> list[Items]:
    """The ablation plugin's drill-down: the discordant items of every compared pair of arms."""
    qa = records("qa")
    if qa is None:
        return []
    opts = result.get("report", {})
    pairs = [(p["a"], p["b"]) for p in result["details"].get("pairs", [])]
    return [discordant(qa, a, b, opts) for a, b in pairs]
