"""Spectral plugin: the CRMA mixing matrix's spectral norm must stay at 1 at every logged step."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from crma_eval.api import Plugin, RecordKind
from crma_eval.plugins.spectral.records import SPECTRAL_KIND


class SpectralOptions(BaseModel):
    """`options.spectral` of a run config."""

    model_config = ConfigDict(extra="forbid")

    spectral_tolerance: float = Field(1e-6, ge=0, allow_inf_nan=False)


class SpectralPlugin(Plugin):
    """Maximum deviation of the spectral norm from 1 and steps over tolerance, per module/phase."""

    name: ClassVar[str] = "spectral"
    title: ClassVar[str] = "Spectral-norm invariant"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (SPECTRAL_KIND,)
    order: ClassVar[int] = 60
    collector: ClassVar[str | None] = ".collect:SpectralCollector"
    options_model: ClassVar[type[BaseModel] | None] = SpectralOptions
    analysis: ClassVar[str | None] = ".analysis:analyze_spectral"
    section: ClassVar[str | None] = ".section:spectral_section"
