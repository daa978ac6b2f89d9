"""Ablation plugin: paired comparison of QA arms (e.g. with vs without CRMA) on the same items."""

from __future__ import annotations

from typing import ClassVar

from crma_eval.api import Plugin


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
    analysis: ClassVar[str | None] = ".analysis:analyze_ablation"
    section: ClassVar[str | None] = ".section:ablation_section"
    items: ClassVar[str | None] = ".items:ablation_items"
