"""The plugin contract: a named evaluation with an analyze step, report section and collect step.

A plugin module must stay importable without torch: the analyze side is pure (records in, numbers
out). A plugin that collects records names its collect function as a dotted path in `collector`;
it is imported only when a run collects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


@dataclass
class AnalysisResult:
    """What one plugin's analysis produced.

    metrics: flat dotted names (`<plugin>.<arm|condition>[.<domain>].<stat>`) to numbers; gates
    address these. details: JSON-serialisable tables for the report. methods: the statistical
    methods used (e.g. {"ci": "wilson", "test": "mcnemar-exact"}), copied into results.json meta.
    skipped: why a plugin that had records produced no result (results.json
    `plugins.<name>.skipped`, printed on stderr and in the report); None when it has one.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None


@dataclass(frozen=True)
class AnalyzeOptions:
    """Options shared by every analysis (from the CLI or a run config)."""

    confidence: float = 0.95
    ci_method: str = "wilson"
    mcnemar_method: str = "exact"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Plugin:
    """Base class of every plugin; subclasses set the class attributes and override what they do."""

    name: ClassVar[str]
    title: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = ()
    order: ClassVar[int] = 100  # place in reports and listings (built-ins use 10..60)
    collector: ClassVar[str | None] = None

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Compute this plugin's numbers from the record frames (one per kind); None if no input."""
        return None

    def report_section(self, result: dict[str, Any]) -> Section | None:
        """Build this plugin's report section from its results.json entry (details, methods)."""
        return None
