"""Corrected full-set accuracy from a reviewed sample: the stratified difference estimator.

Within one (arm, domain), cells h are the disagreement strata (scorers agree / disagree). With
N_h answers in cell h, A_h the automatic (primary) accuracy over all N_h, and d_i = human_i −
auto_i on the n_h reviewed answers (human = reviewers' majority; ties and unlabelled left out):

    p̂ = Σ_h W_h (A_h + mean(d)_h),   Var(p̂) = Σ_h W_h² (1 − n_h/N_h) v_h,   W_h = N_h/N

(the difference estimator of model-assisted survey sampling, Särndal, Swensson & Wretman 1992,
§6.3; the prediction-powered mean of Angelopoulos et al. 2023 without its tuning). v_h is the
larger of s²_h / n_h and the Agresti–Min (2005) variance of a paired difference of proportions,
(q⁺ + q⁻ − (q⁺ − q⁻)²) / (n_h + 2) with q± = (#(d = ±1) + 1/2) / (n_h + 2): a sample whose
reviews all agree with the scorer (s² = 0) still leaves the correction uncertain, so the interval
never has zero width unless the cell was reviewed in full (a census). The interval is normal,
p̂ ± z·SE, clipped to [0, 1]. When a cell has fewer than two reviewed answers (and is not fully
reviewed) the cells are pooled; with none at all the estimate is not computed and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

ESTIMATOR = (
    "stratified difference estimator (auto accuracy on all answers + mean human−auto "
    "correction on the reviewed sample, per disagreement stratum; normal interval with "
    "finite-population correction, variance at least the Agresti-Min paired-difference one)"
)


def _cell(n_pop: int, auto_sum: float, diffs: Sequence[float]) -> tuple[float, float] | None:
    """(estimate, variance) of one cell; None when it cannot be estimated."""
    n = len(diffs)
    if n == 0 or (n < 2 and n < n_pop):
        return None
    d = np.asarray(diffs, dtype=float)
    var = 0.0 if n >= n_pop else (1 - n / n_pop) * max(float(d.var(ddof=1)) / n, _adjusted(d))
    return auto_sum / n_pop + float(d.mean()), var


def _adjusted(d: np.ndarray) -> float:
    """Agresti–Min variance of mean(d), d = human − auto in {-1, 0, 1}: half an answer added to
    each cell of the paired 2 × 2 table (Agresti & Min 2005, Biometrics 61:515)."""
    up = (np.count_nonzero(d > 0) + 0.5) / (d.size + 2)
    down = (np.count_nonzero(d < 0) + 0.5) / (d.size + 2)
    return (up + down - (up - down) ** 2) / (d.size + 2)


def corrected_accuracy(cells: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """Estimate from cells [{N, auto_correct, diffs: [human − auto per reviewed answer]}]."""
    cells = [c for c in cells if c["N"] > 0]
    total = sum(c["N"] for c in cells)
    parts = [_cell(c["N"], c["auto_correct"], c["diffs"]) for c in cells]
    pooled = False
    if any(p is None for p in parts):
        pooled = True
        merged = [d for c in cells for d in c["diffs"]]
        parts = [_cell(total, sum(c["auto_correct"] for c in cells), merged)]
        cells = [{"N": total}]
    if total == 0 or parts[0] is None:
        return {"estimate": None, "why": "no reviewed answer with a majority label"}
    weights = [c["N"] / total for c in cells]
    est = sum(w * p[0] for w, p in zip(weights, parts, strict=True) if p is not None)
    var = sum(w * w * p[1] for w, p in zip(weights, parts, strict=True) if p is not None)
    z = float(norm.ppf(0.5 + confidence / 2))
    se = var**0.5
    return {
        "estimate": float(np.clip(est, 0, 1)),
        "se": se,
        "ci_low": float(max(0.0, est - z * se)),
        "ci_high": float(min(1.0, est + z * se)),
        "N": total,
        "pooled_strata": pooled,
        "estimator": ESTIMATOR,
    }
