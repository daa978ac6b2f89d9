"""Standard benchmarks through lm-evaluation-harness: scores per arm and before/after deltas.

The collect step (crma_eval.plugins.bench.collect) drives lm-eval over the engine's model; this
module and the analysis stay importable without torch or lm-eval.
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from crma_eval.api import PairSpec, Plugin, RecordKind
from crma_eval.plugins.bench.options import BenchOptions
from crma_eval.plugins.bench.records import BENCH_KIND, UNSCORED_KIND

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

METRIC = re.compile(r"bench\.(?P<task>[^.]+)\.(?P<arm>[^.]+)\.(?P<rest>.+)")
# `document`: the content hash doc_hash (+ occurrence) when both runs carry it, else doc_id
# (.pairs.prepare, as the analysis pairs arms: cells.py)
BENCH_KEYS = ("task", "document", "metric", "filter", "seed", "checkpoint")


def _covered(task: str, arm: str, segments: set[str], frame: pd.DataFrame) -> pd.DataFrame:
    """The records a bench metric covers: its task and arm, one lm-eval metric and one filter.

    The metric and filter are those the name mentions (e.g. `acc_norm` and `strict-match` in
    `bench.arc.after.acc_norm.strict-match.score`); a name without a metric means the task's
    primary metric, without a filter the task's only filter (several: none is paired)."""
    from crma_eval import select_slugged, slug
    from crma_eval.plugins.bench.analysis import primary_metric
    from crma_eval.plugins.bench.cells import NO_FILTER

    rows = select_slugged(frame, {"task": task, "arm": arm})
    if rows.empty:
        return rows
    named = rows["metric"].map(slug).isin(segments)
    if named.any():
        rows = rows[named]
    else:
        metrics = list(dict.fromkeys(rows["metric"].astype(str)))
        rows = rows[rows["metric"] == primary_metric(task, metrics, {})]
    filters = rows["filter"].astype(object).fillna(NO_FILTER) if "filter" in rows else None
    if filters is None or filters.nunique() <= 1:
        return rows
    chosen = filters.map(slug).isin(segments)
    return rows[chosen] if chosen.any() else rows.iloc[:0]


class BenchPlugin(Plugin):
    """HellaSwag, ARC, TruthfulQA, WinoGrande, MMLU, GSM8K (or any lm-eval task) per arm."""

    name: ClassVar[str] = "bench"
    title: ClassVar[str] = "Standard benchmarks (lm-evaluation-harness)"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (BENCH_KIND, UNSCORED_KIND)
    order: ClassVar[int] = 40
    collector: ClassVar[str | None] = ".collect:BenchCollector"
    options_model: ClassVar[type[BaseModel] | None] = BenchOptions
    analysis: ClassVar[str | None] = ".analysis:analyze_bench"
    analysis_reads_all: ClassVar[bool] = True  # bench_unscored: the documents left out
    section: ClassVar[str | None] = ".section:bench_section"
    items: ClassVar[str | None] = ".items:bench_items"

    def pairing(self, metric: str) -> PairSpec | None:
        """`bench.<task>.<arm>.*`: that task's and arm's records of the lm-eval metric the name
        mentions, paired on task, document (doc_hash when both runs carry it, else doc_id:
        .pairs), metric, filter, seed and checkpoint."""
        from crma_eval.plugins.bench.pairs import prepare

        match = METRIC.fullmatch(metric)
        if match is None:
            return None
        select = partial(_covered, match["task"], match["arm"], set(match["rest"].split(".")))
        return PairSpec("bench", select, BENCH_KEYS, "value", prepare)
