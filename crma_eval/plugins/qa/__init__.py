"""QA plugin: accuracy per arm and domain, with confidence intervals."""

from __future__ import annotations

import re
from functools import partial
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

ACCURACY = re.compile(
    r"qa\.(?P<arm>[^.]+)(?:\.(?P<first>[^.]+))?(?:\.(?P<second>[^.]+))?\.accuracy"
)
QA_KEYS = ("domain", "item_id", "seed", "checkpoint", "condition")


def _covered(arm: str, segments: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    """The records a qa accuracy metric covers: its arm, and its condition and/or domain (one
    segment names a domain, or a condition when the records carry several)."""
    from crma_eval.pairing import select_slugged

    rows = select_slugged(frame, {"arm": arm})
    if len(segments) == 2:
        return select_slugged(rows, {"condition": segments[0], "domain": segments[1]})
    if not segments or rows.empty:
        return rows
    by_domain = select_slugged(rows, {"domain": segments[0]})
    if by_domain.empty and "condition" in rows.columns:
        return select_slugged(rows, {"condition": segments[0]})
    return by_domain


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
        """`qa.<arm>[.<condition>][.<domain>].accuracy`: that arm's qa records (of that condition
        and domain), paired on domain, item_id, seed, checkpoint and condition."""
        match = ACCURACY.fullmatch(metric)
        if match is None:
            return None
        segments = [s for s in (match["first"], match["second"]) if s]
        return PairSpec("qa", partial(_covered, match["arm"], segments), QA_KEYS, "correct")

    def report_items(self, records: Any, result: dict[str, Any]) -> list[Any]:
        """Drill-down lists from RUN_DIR/records (see Plugin.report_items)."""
        from crma_eval.plugins.qa.items import qa_items

        return qa_items(records, result)
