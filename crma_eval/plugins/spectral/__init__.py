"""Spectral plugin: the CRMA mixing matrix's spectral norm must stay at 1 at every logged step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.plugins.spectral.analysis import analyze_spectral
from crma_eval.plugins.spectral.section import spectral_section

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class SpectralPlugin(Plugin):
    """Maximum deviation of the spectral norm from 1 and steps over tolerance, per module/phase."""

    name: ClassVar[str] = "spectral"
    title: ClassVar[str] = "Spectral-norm invariant"
    kinds: ClassVar[tuple[str, ...]] = ("spectral",)
    order: ClassVar[int] = 60
    collector: ClassVar[str | None] = "crma_eval.plugins.spectral.collect:SpectralCollector"

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Deviation summaries; None without spectral records."""
        spectral = frames.get("spectral")
        return None if spectral is None or spectral.empty else analyze_spectral(spectral, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Summary, table and figure from the stored details."""
        return spectral_section(result)
