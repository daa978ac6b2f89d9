"""Continual-learning metrics of a score matrix R (pure numpy, vectorised over leading axes).

Layout: `R[..., r, c]` with r = 0 … T the number of phases trained (row 0 = the base model before
any training) and c = 0 … T−1 the domain trained in phase c + 1; NaN marks a cell not measured.
In the papers' 1-based notation R_{i,j} = R[i, j − 1] and b_j = R[0, j − 1]. Scores are
higher-is-better (accuracy); a loss matrix is negated first (`oriented`), so every difference
keeps its meaning: BWT < 0 and forgetting > 0 mean forgetting, FWT > 0 means transfer,
intransigence > 0 means the sequence learned less than the joint reference.

Sources: ACC, BWT, FWT — Lopez-Paz & Ranzato 2017 (GEM, NeurIPS), section 4: BWT and FWT divide
by T − 1. Forgetting and intransigence — Chaudhry et al. 2018 (RWalk, ECCV), section 4: f_j =
max_{l ≤ T−1} R_{l,j} − R_{T,j} averaged over j < T; I = mean_k (J_k − R_{k,k}) against a model
trained jointly on all domains. A, BWT over the lower triangle and REM = 1 − |min(BWT, 0)| —
Díaz-Rodríguez et al. 2018 ("Don't forget, there is more than forgetting", NeurIPS workshop).
`forgetting_avalanche` = mean_{j<T} (R_{j,j} − R_{T,j}) is Avalanche's ExperienceForgetting
(no max; Avalanche's BWT is its negative, which equals GEM's BWT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its formula (as printed in the report), source and the cells it needs."""

    name: str
    formula: str
    source: str
    level: bool  # a level (ACC, A) rather than a difference: a loss matrix reports it in loss units


def _size(R: Array) -> int:
    T = R.shape[-1]
    if R.shape[-2] != T + 1:
        raise ValueError(f"a score matrix has T + 1 rows for T columns, got shape {R.shape[-2:]}")
    return T


def _diag(R: Array) -> Array:
    """R_{j,j} for j = 1 … T (shape [..., T])."""
    T = _size(R)
    return R[..., np.arange(1, T + 1), np.arange(T)]


def acc(R: Array) -> Array:
    """ACC = (1/T) Σ_j R_{T,j} (GEM)."""
    return R[..., -1, :].mean(axis=-1)


def bwt(R: Array) -> Array:
    """BWT = 1/(T−1) Σ_{j<T} (R_{T,j} − R_{j,j}) (GEM); NaN when T = 1."""
    T = _size(R)
    if T < 2:
        return np.full(R.shape[:-2], np.nan)
    return (R[..., -1, : T - 1] - _diag(R)[..., : T - 1]).mean(axis=-1)


def fwt(R: Array) -> Array:
    """FWT = 1/(T−1) Σ_{j=2..T} (R_{j−1,j} − b_j) (GEM, b = the base row 0)."""
    T = _size(R)
    if T < 2:
        return np.full(R.shape[:-2], np.nan)
    before = R[..., np.arange(1, T), np.arange(1, T)]
    return (before - R[..., 0, 1:]).mean(axis=-1)


def forgetting(R: Array) -> Array:
    """Chaudhry et al. 2018: mean over j < T of max_{l=1..T−1} R_{l,j} − R_{T,j}.

    Cells not measured (NaN, e.g. a domain before its phase under oracle routing) are left out
    of the max (the diagonal R_{j,j} is among the candidates; a column with none is NaN).
    """
    T = _size(R)
    if T < 2:
        return np.full(R.shape[:-2], np.nan)
    earlier = R[..., 1:T, : T - 1]
    best = np.where(np.isnan(earlier), -np.inf, earlier).max(axis=-2)
    best[np.isneginf(best)] = np.nan
    return (best - R[..., -1, : T - 1]).mean(axis=-1)


def forgetting_avalanche(R: Array) -> Array:
    """Avalanche's forgetting: mean over j < T of R_{j,j} − R_{T,j} (no max; = −BWT)."""
    return -bwt(R)


def intransigence(R: Array, joint: Array) -> Array:
    """Chaudhry et al. 2018: (1/T) Σ_k (J_k − R_{k,k}); J: the joint reference's scores [..., T]."""
    return (joint - _diag(R)).mean(axis=-1)


def lower_a(R: Array) -> Array:
    """Díaz-Rodríguez et al. 2018 A: Σ_{i≥j} R_{i,j} / (T(T+1)/2), rows 1 … T."""
    T = _size(R)
    rows, cols = np.tril_indices(T)
    return R[..., rows + 1, cols].mean(axis=-1)


def bwt_diaz(R: Array) -> Array:
    """Díaz-Rodríguez et al. 2018 BWT: Σ_{i=2..T} Σ_{j<i} (R_{i,j} − R_{j,j}) / (T(T−1)/2)."""
    T = _size(R)
    if T < 2:
        return np.full(R.shape[:-2], np.nan)
    rows, cols = np.tril_indices(T, k=-1)
    return (R[..., rows + 1, cols] - _diag(R)[..., cols]).mean(axis=-1)


def rem(R: Array) -> Array:
    """Díaz-Rodríguez et al. 2018 REM = 1 − |min(BWT_Díaz, 0)| (scores in [0, 1])."""
    return 1 - np.abs(np.minimum(bwt_diaz(R), 0))


GEM = "Lopez-Paz & Ranzato 2017 (GEM)"
CHAUDHRY = "Chaudhry et al. 2018 (RWalk)"
DIAZ = "Díaz-Rodríguez et al. 2018"
SPECS: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        MetricSpec("acc", "(1/T) Σ_j R[T, j]", GEM, level=True),
        MetricSpec("bwt", "1/(T−1) Σ_{j<T} (R[T, j] − R[j, j])", GEM, level=False),
        MetricSpec("fwt", "1/(T−1) Σ_{j≥2} (R[j−1, j] − R[0, j])", GEM, level=False),
        MetricSpec(
            "forgetting", "1/(T−1) Σ_{j<T} (max_{1≤l<T} R[l, j] − R[T, j])", CHAUDHRY, level=False
        ),
        MetricSpec("intransigence", "(1/T) Σ_k (J[k] − R[k, k])", CHAUDHRY, level=False),
        MetricSpec("a", "Σ_{i≥j} R[i, j] / (T(T+1)/2)", DIAZ, level=True),
        MetricSpec("bwt_diaz", "Σ_{i>j} (R[i, j] − R[j, j]) / (T(T−1)/2)", DIAZ, level=False),
        MetricSpec("rem", "1 − |min(BWT_Díaz, 0)|", DIAZ, level=False),
        MetricSpec(
            "forgetting_avalanche",
            "1/(T−1) Σ_{j<T} (R[j, j] − R[T, j]) = −BWT",
            "Avalanche (Lomonaco et al. 2021)",
            level=False,
        ),
    )
}
_PLAIN: dict[str, Callable[[Array], Array]] = {
    "acc": acc,
    "bwt": bwt,
    "fwt": fwt,
    "forgetting": forgetting,
    "a": lower_a,
    "bwt_diaz": bwt_diaz,
    "rem": rem,
    "forgetting_avalanche": forgetting_avalanche,
}


# A loss matrix's levels are losses, not accuracies: named apart.
LOSS_NAMES = {"acc": "final_loss", "a": "a_loss"}


def oriented(R: Array, higher_is_better: bool) -> Array:
    """The matrix as a higher-is-better score: itself for accuracy, −loss for a loss."""
    return R if higher_is_better else -R


def all_metrics(
    R: Array, joint: Array | None = None, higher_is_better: bool = True
) -> dict[str, Array]:
    """Every metric of `R` ([..., T+1, T]); `joint` ([..., T]) enables intransigence.

    A loss matrix (higher_is_better False) is negated before the formulas, so differences keep
    the accuracy sign convention; its levels (ACC, A) are negated back into loss units and named
    `final_loss` and `a_loss`, and REM (defined for scores in [0, 1]) is left out.
    """
    S = oriented(np.asarray(R, dtype=float), higher_is_better)
    out = {name: fn(S) for name, fn in _PLAIN.items()}
    if joint is not None:
        out["intransigence"] = intransigence(
            S, oriented(np.asarray(joint, float), higher_is_better)
        )
    if not higher_is_better:
        del out["rem"]
        for name, spec in SPECS.items():
            if spec.level:
                out[LOSS_NAMES[name]] = -out.pop(name)
    return out


def needed_cells(name: str, T: int) -> NDArray[np.bool_]:
    """The cells of a [T+1, T] matrix a metric cannot do without (for 'why not computed')."""
    mask = np.zeros((T + 1, T), dtype=bool)
    diag = (np.arange(1, T + 1), np.arange(T))
    if name in ("acc",):
        mask[T, :] = True
    elif name in ("bwt", "forgetting", "forgetting_avalanche"):
        mask[T, : T - 1] = True
        mask[diag[0][: T - 1], diag[1][: T - 1]] = True
    elif name == "fwt":
        mask[0, 1:] = True
        mask[np.arange(1, T), np.arange(1, T)] = True
    elif name == "intransigence":
        mask[diag] = True
    elif name in ("a", "bwt_diaz", "rem"):
        rows, cols = np.tril_indices(T)
        mask[rows + 1, cols] = True
    return mask
