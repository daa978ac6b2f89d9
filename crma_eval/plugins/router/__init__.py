"""Router plugin: is each query sent to the right adapter (and are OOD queries refused)?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import (
    AnalysisResult,
    AnalyzeOptions,
    DataShape,
    Plugin,
    RecordKind,
)
from crma_eval.plugins.router.records import ROUTE_KIND

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class RouterPlugin(Plugin):
    """Routing accuracy per stress category, macro F1, OOD AUROC and a coverage curve."""

    name: ClassVar[str] = "router"
    title: ClassVar[str] = "Router stress test"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (ROUTE_KIND,)
    kinds: ClassVar[tuple[str, ...]] = ("route", "qa")
    order: ClassVar[int] = 50
    collector: ClassVar[str | None] = "crma_eval.plugins.router.collect:RouterCollector"
    data: ClassVar[dict[str, DataShape]] = {"router_suite": "file"}

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Routing numbers (the oracle gap also reads `qa`); None without route records."""
        route = frames.get("route")
        if route is None or route.empty:
            return None
        from crma_eval.plugins.router.analysis import analyze_router

        return analyze_router(frames, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Accuracy table, confusion matrix and coverage curve from the stored details."""
        from crma_eval.plugins.router.section import router_section

        return router_section(result)

    def report_items(self, records: Any, result: dict[str, Any]) -> list[Any]:
        """Drill-down lists from RUN_DIR/records (see Plugin.report_items)."""
        from crma_eval.plugins.router.section import router_items

        return router_items(records, result)
