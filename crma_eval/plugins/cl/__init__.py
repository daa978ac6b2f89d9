"""cl plugin: the continual-learning score matrix R[i, j] and the metrics derived from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from crma_eval.api import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.plugins.cl.options import CLOptions

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Score matrix R",
        "R[i, j]: score on domain j after training through phase i (row 0 = the base model before "
        "any training), per condition, arm and seed. From qa records: accuracy (mean correctness "
        "over the domain's items; higher is better). From loss records: holdout loss (nats/token; "
        "lower is better). The phase of a qa record is its after_phase field, else the -phase<p> "
        "ending of its checkpoint id. Across seeds: mean and sample sd (ddof = 1).",
    ),
    (
        "Sign convention",
        "Differences read the same for both sources: BWT < 0 and forgetting > 0 mean forgetting, "
        "FWT > 0 means the earlier phases helped, intransigence > 0 means the sequence learned "
        "less than the joint reference. A loss matrix is negated before the formulas; its levels "
        "(ACC, A) stay in loss units (lower is better) and REM is not defined for it.",
    ),
    ("ACC", "(1/T) Σ_j R[T, j] — Lopez-Paz & Ranzato 2017 (GEM, NeurIPS)."),
    (
        "BWT",
        "1/(T−1) Σ_{j<T} (R[T, j] − R[j, j]) — GEM, divisor T − 1. Some implementations divide "
        "by T or average over every earlier row (Continuum issue #281, SAPT issue #8); "
        "Díaz-Rodríguez's BWT below averages the whole lower triangle.",
    ),
    ("FWT", "1/(T−1) Σ_{j≥2} (R[j−1, j] − R[0, j]) against the base row 0 — GEM."),
    (
        "Forgetting",
        "1/(T−1) Σ_{j<T} (max_{1≤l<T} R[l, j] − R[T, j]) — Chaudhry et al. 2018 (RWalk, ECCV); "
        "cells not measured are left out of the max. Avalanche's forgetting has no max: "
        "R[j, j] − R[T, j] averaged (forgetting_avalanche), and its BWT is −forgetting (= GEM's "
        "BWT).",
    ),
    (
        "Intransigence",
        "(1/T) Σ_k (J[k] − R[k, k]), J = the score of a model trained jointly on all domains "
        "(the condition named by options.cl.joint, default 'joint', after its last phase, pooled "
        "over its seeds) — Chaudhry et al. 2018. qa records only.",
    ),
    (
        "A, BWT_Díaz, REM",
        "A = Σ_{i≥j} R[i, j] / (T(T+1)/2); BWT_Díaz = Σ_{i>j} (R[i, j] − R[j, j]) / (T(T−1)/2); "
        "REM = 1 − |min(BWT_Díaz, 0)| — Díaz-Rodríguez et al. 2018 (NeurIPS CL workshop).",
    ),
    (
        "Item-cluster bootstrap interval",
        "Items are resampled with replacement within each domain, each keeping its answers after "
        "every phase, under every seed and arm (the item is the unit of analysis); the metric is "
        "recomputed on every resample; percentile interval. Seeds are fixed: the interval is "
        "item-sampling uncertainty of the seed-averaged metric (Efron & Tibshirani 1993).",
    ),
    (
        "Modular attribution",
        "Under oracle routing a domain always gets its own adapter, so R[k, j] − R[j, j] (k > j) "
        "is drift of what the domains share (the CRMA module, the base); routed − oracle on the "
        "same cell is what routing costs, split per phase into misrouted and correctly routed "
        "items (the router plugin's oracle gap).",
    ),
)


class CLPlugin(Plugin):
    """Score matrices per condition, arm and seed; GEM, Chaudhry and Díaz-Rodríguez metrics."""

    name: ClassVar[str] = "cl"
    title: ClassVar[str] = "Continual-learning matrix"
    kinds: ClassVar[tuple[str, ...]] = ("qa", "loss")
    order: ClassVar[int] = 35
    options_model: ClassVar[type[BaseModel] | None] = CLOptions
    definitions: ClassVar[tuple[tuple[str, str], ...]] = DEFINITIONS
    section: ClassVar[str | None] = ".section:cl_section"

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Matrices and metrics; None when no qa record carries a phase and no loss records
        (qa or loss alone is enough, so this overrides the main-kind rule)."""
        from crma_eval.plugins.cl.analysis import analyze_cl

        return analyze_cl(frames, options)
