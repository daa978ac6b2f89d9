"""Drill-down lists of the QA plugin: wrong answers per arm and domain, discordant paired items."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from crma_eval.blocks import Items
from crma_eval.labels import display

TEXT = ("question", "reference", "prediction")
PAIR_KEYS = ("domain", "item_id", "seed", "checkpoint")


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)


def _rows(columns: list[pd.Series]) -> list[list[Any]]:
    """Row lists from equally long columns, built column-wise (no per-cell Python loop).

    Missing cells become None (NaN would print as a number)."""
    frame = pd.concat([c.reset_index(drop=True).astype(object) for c in columns], axis=1)
    return frame.where(frame.notna(), None).to_numpy(object).tolist()


def _shown(opts: Mapping[str, Any], arms: pd.Series) -> pd.Series:
    """Arm labels by their display names (one lookup per distinct arm)."""
    return arms.map({arm: display(opts, arm) for arm in arms.unique()})


def wrong_answers(qa: pd.DataFrame, opts: Mapping[str, Any]) -> Items:
    """Every wrong answer: arm, domain, seed, item, question, reference, prediction."""
    wrong = qa[~qa["correct"].astype(bool)]
    columns = [_shown(opts, wrong["arm"]), wrong["domain"], _col(wrong, "seed"), wrong["item_id"]]
    return Items(
        "Wrong answers by arm and domain",
        ["arm", "domain", "seed", "item", "question", "reference", "prediction"],
        _rows([*columns, *(_col(wrong, c) for c in TEXT)]),
        id="qa-wrong-answers",
    )


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
    columns = [right_under, flip["domain"], _col(flip, "seed"), flip["item_id"]]
    texts = ("question_a", "reference_a", "prediction_a", "prediction_b")
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
        _rows([*columns, *(_col(flip, c) for c in texts)]),
        note="The items McNemar's test counts: right under one arm only.",
        id=f"discordant-{a}-vs-{b}",
    )


def qa_items(records: Callable[[str], pd.DataFrame | None], result: dict[str, Any]) -> list[Items]:
    """The QA plugin's drill-down: wrong answers (every arm and domain)."""
    qa = records("qa")
    return [] if qa is None else [wrong_answers(qa, result.get("report", {}))]


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
