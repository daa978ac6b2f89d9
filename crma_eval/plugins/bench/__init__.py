"""Standard benchmarks through lm-evaluation-harness: scores per arm and before/after deltas.

The collect step (crma_eval.plugins.bench.collect) drives lm-eval over the engine's model; this
module and the analysis stay importable without torch or lm-eval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.plugins.bench.analysis import analyze_bench
from crma_eval.plugins.bench.section import bench_section

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class BenchPlugin(Plugin):
    """HellaSwag, ARC, TruthfulQA, WinoGrande, MMLU, GSM8K (or any lm-eval task) per arm."""

    name: ClassVar[str] = "bench"
    title: ClassVar[str] = "Standard benchmarks (lm-evaluation-harness)"
    kinds: ClassVar[tuple[str, ...]] = ("bench",)
    order: ClassVar[int] = 40
    collector: ClassVar[str | None] = "crma_eval.plugins.bench.collect:BenchCollector"

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Score and CI per task and arm, paired deltas, McNemar, Holm; None without records."""
        bench = frames.get("bench")
        return None if bench is None or bench.empty else analyze_bench(bench, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Score table, delta table and forest plot from the stored details."""
        return bench_section(result)
