"""Drill-down list of the QA plugin: wrong answers per arm and domain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from crma_eval import Items, display, item_rows, optional_column

TEXT = ("question", "reference", "prediction")


def _shown(opts: Mapping[str, Any], arms: pd.Series) -> pd.Series:
    """Arm labels by their display names (one lookup per distinct arm)."""
    return arms.map({arm: display(opts, arm) for arm in arms.unique()})


def wrong_answers(qa: pd.DataFrame, opts: Mapping[str, Any]) -> Items:
    """Every wrong answer: arm, domain, seed, item, question, reference, prediction."""
    wrong = qa[~qa["correct"].astype(bool)]
    columns = [
        _shown(opts, wrong["arm"]),
        wrong["domain"],
        optional_column(wrong, "seed"),
        wrong["item_id"],
    ]
    return Items(
        "Wrong answers by arm and domain",
        ["arm", "domain", "seed", "item", "question", "reference", "prediction"],
        item_rows([*columns, *(optional_column(wrong, c) for c in TEXT)]),
        id="qa-wrong-answers",
    )


def qa_items(records: Callable[[str], pd.DataFrame | None], result: dict[str, Any]) -> list[Items]:
    """The QA plugin's drill-down: wrong answers (every arm and domain)."""
    qa = records("qa")
    return [] if qa is None else [wrong_answers(qa, result.get("report", {}))]
