"""Drift plugin: loss-relative forgetting, final holdout and learning advantage across seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.plugins.drift.analysis import analyze_drift
from crma_eval.plugins.drift.section import drift_section

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class DriftPlugin(Plugin):
    """Builds the loss matrix L(p, d) per condition and seed and compares conditions."""

    name: ClassVar[str] = "drift"
    title: ClassVar[str] = "Forgetting (loss-relative drift)"
    kinds: ClassVar[tuple[str, ...]] = ("loss",)
    order: ClassVar[int] = 30
    collector: ClassVar[str | None] = "crma_eval.plugins.drift.collect:DriftCollector"

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Drift, holdout, advantages and tests; None without loss records."""
        loss = frames.get("loss")
        return None if loss is None or loss.empty else analyze_drift(loss, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Per-seed table, heatmaps, drift chart and tests from the stored details."""
        return drift_section(result)
