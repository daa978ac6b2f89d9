"""The router's unit of analysis: the query (one suite item_id), whatever the checkpoints.

A suite routed for several checkpoints gives one record per (query, checkpoint). When the
checkpoints share one router, the records of a query are the same decision repeated: each query
is counted once (n = distinct queries). When they carry different routers, every decision is
kept, the query is the cluster (intervals clustered by query, n = distinct queries) and each
checkpoint also gets rows of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

ROUTING_FIELDS = ("category", "gold", "predicted", "score", "scores", "confidence", "acceptable")
SHARED = "shared"
SEVERAL = "several"
SINGLE = "single"


@dataclass(frozen=True)
class Units:
    """The route frame to analyse and how its rows relate to queries.

    mode: single (each query routed once), shared (several checkpoints, one router: repeats
    dropped) or several (several routers: all decisions, `clusters` = query of each row).
    """

    frame: pd.DataFrame
    mode: str
    n_queries: int
    n_decisions: int
    checkpoints: list[str]
    clusters: np.ndarray | None

    def describe(self) -> str:
        """The unit of analysis in words, for `methods` and the report."""
        if self.mode == SHARED:
            return (
                f"query: {self.n_queries} distinct queries routed by one router shared by "
                f"{len(self.checkpoints)} checkpoints ({self.n_decisions} records), each "
                "counted once"
            )
        if self.mode == SEVERAL:
            return (
                f"query: {self.n_queries} distinct queries routed by {len(self.checkpoints)} "
                f"checkpoints ({self.n_decisions} decisions); pooled numbers with intervals "
                "clustered by query, and per-checkpoint rows"
            )
        return f"query: {self.n_queries} queries, each routed once"


def _comparable(value: Any) -> str:
    """A routing field as text that compares equal for equal values (dicts and lists too)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "null"
    return repr(value)


def query_units(route: pd.DataFrame) -> Units:
    """Decide the unit of analysis of a route frame (see the module)."""
    queries = route["item_id"].astype(str)
    n_queries = int(queries.nunique())
    checkpoints: list[str] = []
    if "checkpoint" in route.columns:
        checkpoints = [str(c) for c in pd.unique(route["checkpoint"].dropna())]
    if n_queries == len(route):
        return Units(route, SINGLE, n_queries, len(route), checkpoints, None)
    fields = [f for f in ROUTING_FIELDS if f in route.columns]
    text = pd.DataFrame({f: route[f].map(_comparable) for f in fields}, index=route.index)
    same = bool((text.groupby(queries.to_numpy()).nunique() <= 1).all().all())
    if same:
        first = route[~queries.duplicated(keep="first")]
        return Units(first, SHARED, n_queries, len(route), checkpoints, None)
    clusters = queries.factorize()[0]
    return Units(route, SEVERAL, n_queries, len(route), checkpoints, clusters)
