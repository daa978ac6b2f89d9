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
from crma_eval.plugins.bench.records import BENCH_KIND

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

METRIC = re.compile(r"bench\.(?P<task>[^.]+)\.(?P<arm>[^.]+)\.(?P<rest>.+)")
BENCH_KEYS = ("task", "doc_id", "metric", "filter", "seed", "checkpoint")


def _covered(task: str, arm: str, segments: set[str], frame: pd.DataFrame) -> pd.DataFrame:
    """The records a bench metric covers: its task and arm, and only the lm-eval metric the name
    mentions (e.g. `acc` in `bench.arc.after.acc.score`) when it mentions one."""
    from crma_eval import select_slugged, slug

    rows = select_slugged(frame, {"task": task, "arm": arm})
    if rows.empty:
        return rows
    named = rows["metric"].map(slug).isin(segments)
    return rows[named] if named.any() else rows


class BenchPlugin(Plugin):
    """HellaSwag, ARC, TruthfulQA, WinoGrande, MMLU, GSM8K (or any lm-eval task) per arm."""

    name: ClassVar[str] = "bench"
    title: ClassVar[str] = "Standard benchmarks (lm-evaluation-harness)"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (BENCH_KIND,)
    order: ClassVar[int] = 40
    collector: ClassVar[str | None] = ".collect:BenchCollector"
    options_model: ClassVar[type[BaseModel] | None] = BenchOptions
    analysis: ClassVar[str | None] = ".analysis:analyze_bench"
    section: ClassVar[str | None] = ".section:bench_section"
    items: ClassVar[str | None] = ".items:bench_items"
    commands: ClassVar[dict[str, str]] = {"audit": ".gsm8k.cli:audit"}

    def pairing(self, metric: str) -> PairSpec | None:
        """`bench.<task>.<arm>.*`: that task's and arm's records of the lm-eval metric the name
        mentions, paired on task, doc_id, metric, filter, seed and checkpoint."""
        match = METRIC.fullmatch(metric)
        if match is None:
            return None
        select = partial(_covered, match["task"], match["arm"], set(match["rest"].split(".")))
        return PairSpec("bench", select, BENCH_KEYS, "value")
