"""Drift plugin: loss-relative forgetting, final holdout and learning advantage across seeds."""

from __future__ import annotations

from typing import ClassVar

from crma_eval.api import DataShape, Plugin, RecordKind
from crma_eval.plugins.drift.records import LOSS_KIND


class DriftPlugin(Plugin):
    """Builds the loss matrix L(p, d) per condition and seed and compares conditions."""

    name: ClassVar[str] = "drift"
    title: ClassVar[str] = "Forgetting (loss-relative drift)"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (LOSS_KIND,)
    order: ClassVar[int] = 30
    collector: ClassVar[str | None] = ".collect:DriftCollector"
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
    analysis: ClassVar[str | None] = ".analysis:analyze_drift"
    section: ClassVar[str | None] = ".section:drift_section"
