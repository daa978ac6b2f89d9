"""Ablation plugin: paired comparison of QA arms (e.g. with vs without CRMA) on the same items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class AblationPlugin(Plugin):
    """McNemar tests and paired accuracy differences between every pair of QA arms."""

    name: ClassVar[str] = "ablation"
    title: ClassVar[str] = "Paired ablation (McNemar; item-level test for repeated items)"
    kinds: ClassVar[tuple[str, ...]] = ("qa",)
    order: ClassVar[int] = 20
    definitions: ClassVar[tuple[tuple[str, str], ...]] = (
        (
            "McNemar test (paired arms)",
            "Pairs are matched on item_id (+ domain); unmatched items are an error, never "
            "dropped. The discordant counts are printed as 'only A right' (items right under the "
            "first arm only) and 'only B right' (right under the second arm only); the test uses "
            "only these. Exact two-sided binomial test of 'only A right' ~ Bin(discordant, ½) by "
            "default; mid-p and chi-square with continuity correction on request. The test "
            "statistic is min(only A right, only B right) for the exact and mid-p tests (as "
            "statsmodels) and (|only A − only B| − 1)² / discordant for the chi-square test.",
        ),
    )

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Compare every pair of arms sharing items; None without qa records or such pairs."""
        qa = frames.get("qa")
        if qa is None or qa.empty:
            return None
        from crma_eval.plugins.ablation.analysis import analyze_ablation

        return analyze_ablation(qa, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """One table per pair of arms, with b and c and the test used."""
        from crma_eval.plugins.ablation.section import ablation_section

        return ablation_section(result)

    def report_items(self, records: Any, result: dict[str, Any]) -> list[Any]:
        """Drill-down lists from RUN_DIR/records (see Plugin.report_items)."""
        from crma_eval.plugins.qa.items import ablation_items

        return ablation_items(records, result)
