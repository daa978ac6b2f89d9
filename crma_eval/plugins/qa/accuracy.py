"""Accuracy of one group of QA answers and its catalogue entries (shared by the QA analysis and
the side-by-side comparison of scorers)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crma_eval import clustered_proportion, item_clusters, proportion, repeats_items
from crma_eval.api import AnalyzeOptions, MetricInfo, describe


def accuracy(rows: pd.DataFrame, options: AnalyzeOptions) -> dict[str, Any]:
    """k, n, accuracy and interval of one group: plain CI for independent items, else clustered."""
    correct = rows["correct"].astype(bool)
    k, n = int(correct.sum()), int(correct.size)
    if not repeats_items(rows):
        return proportion(k, n, options) | {"method": options.ci_method}
    res = clustered_proportion(correct.to_numpy(), item_clusters(rows), options.confidence)
    return {
        "k": k,
        "n": n,
        "accuracy": res.estimate,
        "ci_low": res.low,
        "ci_high": res.high,
        "n_items": res.n_items,
        "n_observations": res.n_observations,
        "design_effect": res.design_effect,
        "n_effective": res.n_effective,
        "method": res.method,
    }


def row_info(
    names: list[str], prefix: str, row: dict[str, Any], what: str, confidence: float
) -> dict[str, MetricInfo]:
    """Catalogue entries of one accuracy row's metrics: the unit is the item (n = distinct items
    when items repeat, else answers = items) and the interval's method is the row's."""
    return describe(
        names, prefix, "accuracy", what, unit="item", n=int(row.get("n_items", row["n"])),
        method="k/n", interval=row["method"], confidence=confidence, direction="higher",
    )  # fmt: skip
