"""Spectral plugin: the CRMA mixing matrix's spectral norm must stay at 1 at every logged step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions, Plugin, RecordKind
from crma_eval.plugins.spectral.records import SPECTRAL_KIND

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class SpectralOptions(BaseModel):
    """`options.spectral` of a run config."""

    model_config = ConfigDict(extra="forbid")

    spectral_tolerance: float = Field(1e-6, ge=0, allow_inf_nan=False)


class SpectralPlugin(Plugin):
    """Maximum deviation of the spectral norm from 1 and steps over tolerance, per module/phase."""

    name: ClassVar[str] = "spectral"
    title: ClassVar[str] = "Spectral-norm invariant"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (SPECTRAL_KIND,)
    kinds: ClassVar[tuple[str, ...]] = ("spectral",)
    order: ClassVar[int] = 60
    collector: ClassVar[str | None] = "crma_eval.plugins.spectral.collect:SpectralCollector"
    options_model: ClassVar[type[BaseModel] | None] = SpectralOptions

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Deviation summaries; None without spectral records."""
        spectral = frames.get("spectral")
        if spectral is None or spectral.empty:
            return None
        from crma_eval.plugins.spectral.analysis import analyze_spectral

        return analyze_spectral(spectral, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Summary, table and figure from the stored details."""
        from crma_eval.plugins.spectral.section import spectral_section

        return spectral_section(result)
