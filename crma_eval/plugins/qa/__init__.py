"""QA plugin: accuracy per arm and domain, with confidence intervals."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import (
    AnalysisResult,
    AnalyzeOptions,
    DataShape,
    PairSpec,
    Plugin,
    RecordKind,
)
from crma_eval.plugins.qa.records import QA_KIND

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section

ACCURACY = re.compile(r"qa\.(?P<arm>[^.]+)(?:\.(?P<domain>[^.]+))?\.accuracy")


class QAPlugin(Plugin):
    """Accuracy of each arm (e.g. with/without CRMA) on each domain's QA set."""

    name: ClassVar[str] = "qa"
    title: ClassVar[str] = "Domain QA accuracy"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (QA_KIND,)
    kinds: ClassVar[tuple[str, ...]] = ("qa",)
    order: ClassVar[int] = 10
    collector: ClassVar[str | None] = "crma_eval.plugins.qa.collect:QACollector"
    data: ClassVar[dict[str, DataShape]] = {"qa": "per_domain"}
    definitions: ClassVar[tuple[tuple[str, str], ...]] = (
        (
            "Proportion intervals",
            "Wilson score interval by default; Clopper–Pearson, Jeffreys and Agresti–Coull on "
            "request. The method is printed beside every interval.",
        ),
    )

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Accuracy and CI per arm and domain; None without qa records."""
        qa = frames.get("qa")
        if qa is None or qa.empty:
            return None
        from crma_eval.plugins.qa.analysis import analyze_qa

        return analyze_qa(qa, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Headline numbers, table and figure from the stored details."""
        from crma_eval.plugins.qa.section import qa_section

        return qa_section(result)

    def pairing(self, metric: str) -> PairSpec | None:
        """`qa.<arm>[.<domain>].accuracy` pairs qa records on domain, item_id (and seed)."""
        match = ACCURACY.fullmatch(metric)
        if match is None:
            return None
        select = {"arm": match["arm"]}
        if match["domain"]:
            select["domain"] = match["domain"]
        return PairSpec("qa", select, ("domain", "item_id", "seed"), "correct")

    def report_items(self, records: Any, result: dict[str, Any]) -> list[Any]:
        """Drill-down lists from RUN_DIR/records (see Plugin.report_items)."""
        from crma_eval.plugins.qa.items import qa_items

        return qa_items(records, result)
