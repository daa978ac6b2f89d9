"""Drift plugin: loss-relative forgetting, final holdout and learning advantage across seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from crma_eval.plugins.base import (
    AnalysisResult,
    AnalyzeOptions,
    DataShape,
    Plugin,
    RecordKind,
)
from crma_eval.plugins.drift.records import LOSS_KIND

if TYPE_CHECKING:
    import pandas as pd

    from crma_eval.blocks import Section


class DriftPlugin(Plugin):
    """Builds the loss matrix L(p, d) per condition and seed and compares conditions."""

    name: ClassVar[str] = "drift"
    title: ClassVar[str] = "Forgetting (loss-relative drift)"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (LOSS_KIND,)
    kinds: ClassVar[tuple[str, ...]] = ("loss",)
    order: ClassVar[int] = 30
    collector: ClassVar[str | None] = "crma_eval.plugins.drift.collect:DriftCollector"
    data: ClassVar[dict[str, DataShape]] = {"holdout": "per_domain"}
    definitions: ClassVar[tuple[tuple[str, str], ...]] = (
        (
            "Loss-relative drift",
            "For domain d, trained in phase d of T: drift_d = (L(T, d) − L(d, d)) / L(d, d) × "
            "100 %, where L(p, d) is the holdout loss (mean NLL per token) on domain d after "
            "phase p. A condition's drift is the mean over d = 1 … T−1, per seed. Positive means "
            "forgetting.",
        ),
        (
            "Final holdout",
            "Mean over all T domains of L(T, d), the holdout loss after the last phase, per seed.",
        ),
        (
            "Learning advantage",
            "Of condition A over B: (holdout_B − holdout_A) / holdout_B × 100 %, per seed.",
        ),
        (
            "Across seeds",
            "Mean, sample standard deviation (ddof = 1), per-seed range and whether two "
            "conditions' per-seed ranges are disjoint; Welch's unequal-variance t-test.",
        ),
        (
            "Exact permutation test and its floor",
            "All C(n_a + n_b, n_a) relabellings when that is at most 10^6, otherwise a seeded "
            "Monte Carlo that says so. An exact test cannot go below its floor, printed beside "
            "the p-value: with 3 vs 3 seeds the smallest two-sided p is 2/20 = 0.10; with 4 vs 4 "
            "it is 2/70 ≈ 0.029.",
        ),
    )

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Drift, holdout, advantages and tests; None without loss records."""
        loss = frames.get("loss")
        if loss is not None:  # after_phase 0 (the base model) is the cl plugin's row 0, not drift's
            loss = loss[loss["after_phase"] >= 1]
        if loss is None or loss.empty:
            return None
        from crma_eval.plugins.drift.analysis import analyze_drift

        return analyze_drift(loss, options)

    def report_section(self, result: dict[str, Any]) -> Section:
        """Per-seed table, heatmaps, drift chart and tests from the stored details."""
        from crma_eval.plugins.drift.section import drift_section

        return drift_section(result)
