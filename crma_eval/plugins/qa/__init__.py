"""QA plugin: accuracy per arm and domain, with confidence intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.plugins.qa.analysis import analyze_qa
from crma_eval.plugins.qa.section import qa_section

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class QAPlugin(Plugin):
    """Accuracy of each arm (e.g. with/without CRMA) on each domain's QA set."""

    name: ClassVar[str] = "qa"
    title: ClassVar[str] = "Domain QA accuracy"
    kinds: ClassVar[tuple[str, ...]] = ("qa",)
    order: ClassVar[int] = 10
    collector: ClassVar[str | None] = "crma_eval.plugins.qa.collect:QACollector"

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Accuracy and CI per arm and domain; None without qa records."""
        qa = frames.get("qa")
        return None if qa is None or qa.empty else analyze_qa(qa, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Headline numbers, table and figure from the stored details."""
        return qa_section(result)

    def report_items(self, records: Any, result: dict[str, Any]) -> list[Any]:
        """Drill-down lists from RUN_DIR/records (see Plugin.report_items)."""
        from crma_eval.plugins.qa.items import qa_items

        return qa_items(records, result)
