"""Standard benchmarks through lm-evaluation-harness: scores per arm and before/after deltas.

The collect step (crma_eval.plugins.bench.collect) drives lm-eval over the engine's model; this
module and the analysis stay importable without torch or lm-eval.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import (
    AnalysisResult,
    AnalyzeOptions,
    PairSpec,
    Plugin,
    RecordKind,
)
from crma_eval.plugins.bench.options import BenchOptions
from crma_eval.plugins.bench.records import BENCH_KIND

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from crma_eval.blocks import Section

METRIC = re.compile(r"bench\.(?P<task>[^.]+)\.(?P<arm>[^.]+)\.(?P<rest>.+)")


class BenchPlugin(Plugin):
    """HellaSwag, ARC, TruthfulQA, WinoGrande, MMLU, GSM8K (or any lm-eval task) per arm."""

    name: ClassVar[str] = "bench"
    title: ClassVar[str] = "Standard benchmarks (lm-evaluation-harness)"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (BENCH_KIND,)
    kinds: ClassVar[tuple[str, ...]] = ("bench",)
    order: ClassVar[int] = 40
    collector: ClassVar[str | None] = "crma_eval.plugins.bench.collect:BenchCollector"
    options_model: ClassVar[type[BaseModel] | None] = BenchOptions

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Score and CI per task and arm, paired deltas, McNemar, Holm; None without records."""
        bench = frames.get("bench")
        if bench is None or bench.empty:
            return None
        from crma_eval.plugins.bench.analysis import analyze_bench

        return analyze_bench(bench, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Score table, delta table and forest plot from the stored details."""
        from crma_eval.plugins.bench.section import bench_section

        return bench_section(result)

    def pairing(self, metric: str) -> PairSpec | None:
        """`bench.<task>.<arm>.*` pairs bench records on task, doc_id, metric and filter."""
        match = METRIC.fullmatch(metric)
        if match is None:
            return None
        select = {"task": match["task"], "arm": match["arm"]}
        keys = ("task", "doc_id", "metric", "filter")
        return PairSpec("bench", select, keys, "value", frozenset(match["rest"].split(".")))
