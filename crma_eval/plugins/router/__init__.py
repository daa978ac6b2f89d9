"""Router plugin: is each query sent to the right adapter (and are OOD queries refused)?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.plugins.router.analysis import analyze_router
from crma_eval.plugins.router.section import router_section

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class RouterPlugin(Plugin):
    """Routing accuracy per stress category, macro F1, OOD AUROC and a coverage curve."""

    name: ClassVar[str] = "router"
    title: ClassVar[str] = "Router stress test"
    kinds: ClassVar[tuple[str, ...]] = ("route", "qa")
    order: ClassVar[int] = 50
    collector: ClassVar[str | None] = "crma_eval.plugins.router.collect:RouterCollector"

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Routing numbers (the oracle gap also reads `qa`); None without route records."""
        route = frames.get("route")
        return None if route is None or route.empty else analyze_router(frames, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Accuracy table, confusion matrix and coverage curve from the stored details."""
        return router_section(result)
