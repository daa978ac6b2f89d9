"""Router metrics on plain arrays: OOD detection, calibration, selective routing, threshold sweep.

Definitions follow the OOD-detection and selective-prediction literature (Hendrycks & Gimpel 2017;
Guo et al. 2017; Geifman & El-Yaniv 2017): in-distribution (a query with a gold domain) is the
positive class and the router's `score` (higher = more in-distribution) the decision value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ECE_BINS = 15
TARGET_TPR = 0.95
SWEEP_POINTS = 200


def _two_classes(in_dist: np.ndarray) -> bool:
    return bool(in_dist.any() and not in_dist.all())


def _curve_counts(in_dist: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives accepted at each distinct score, highest first (the counts of
    sklearn's roc_curve / precision_recall_curve, without their per-call validation cost)."""
    order = np.argsort(-score, kind="stable")
    y, s = in_dist[order], score[order]
    last = np.r_[s[1:] != s[:-1], True]
    return np.cumsum(y)[last], np.cumsum(~y)[last]


def _roc(in_dist: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) from (0, 0) through every distinct threshold, as sklearn roc_curve with
    drop_intermediate=False."""
    tps, fps = _curve_counts(in_dist, score)
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def auroc(in_dist: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal, as sklearn roc_auc_score); NaN unless both classes
    occur. in_dist: bool [n]; score: float [n]."""
    in_dist, score = np.asarray(in_dist, dtype=bool), np.asarray(score, dtype=float)
    if not _two_classes(in_dist):
        return math.nan
    fpr, tpr = _roc(in_dist, score)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def aupr(in_dist: np.ndarray, score: np.ndarray) -> float:
    """Average precision with in-distribution positive: sum over distinct thresholds of
    (recall step) x precision (as sklearn average_precision_score); NaN if a class is missing."""
    in_dist, score = np.asarray(in_dist, dtype=bool), np.asarray(score, dtype=float)
    if not _two_classes(in_dist):
        return math.nan
    tps, fps = _curve_counts(in_dist, score)
    recall = np.r_[0.0, tps / tps[-1]]
    return float(np.sum(np.diff(recall) * tps / (tps + fps)))


def fpr_at_tpr(in_dist: np.ndarray, score: np.ndarray, tpr_target: float = TARGET_TPR) -> float:
    """FPR at the first ROC threshold (all thresholds kept, decreasing, as sklearn roc_curve
    with drop_intermediate=False) whose TPR reaches `tpr_target`; NaN if a class is missing."""
    in_dist, score = np.asarray(in_dist, dtype=bool), np.asarray(score, dtype=float)
    if not _two_classes(in_dist):
        return math.nan
    fpr, tpr = _roc(in_dist, score)
    return float(fpr[int(np.argmax(tpr >= tpr_target))])


def macro_f1(gold: np.ndarray, predicted: np.ndarray, labels: list[str]) -> float:
    """Unweighted mean of per-label F1 = 2tp / (2tp + fp + fn) over `labels`, 0 where undefined
    (as sklearn f1_score, average="macro", zero_division=0).

    Entries outside `labels` (abstention, an OOD query's missing gold) count only as the misses
    or false positives they cause. NaN without labels.
    """
    if not labels:
        return math.nan
    names = np.asarray(labels, dtype=object)
    g = np.asarray(gold, dtype=object)[:, None] == names
    p = np.asarray(predicted, dtype=object)[:, None] == names
    tp, fp, fn = (g & p).sum(0), (~g & p).sum(0), (g & ~p).sum(0)
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(len(labels)), where=denominator > 0)
    return float(f1.mean())


def reliability(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS
) -> dict[str, Any]:
    """ECE and the reliability table over `n_bins` equal-width confidence bins (Guo et al. 2017).

    Bin b holds confidences in (b/n, (b+1)/n] (confidence 0 falls in the first bin); ECE =
    sum_b |accuracy_b - mean confidence_b| * n_b / N. Empty bins are left out of the table.
    Raises ValueError for confidences outside [0, 1] or no queries.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    if confidence.size == 0 or confidence.min() < 0 or confidence.max() > 1:
        raise ValueError("confidences must be a non-empty sample in [0, 1]")
    which = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    rows, ece = [], 0.0
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        acc, conf = float(correct[mask].mean()), float(confidence[mask].mean())
        ece += abs(acc - conf) * mask.sum() / confidence.size
        rows.append(
            {"low": b / n_bins, "high": (b + 1) / n_bins, "n": int(mask.sum()), "accuracy": acc,
             "confidence": conf}
        )  # fmt: skip
    return {"ece": float(ece), "bins": rows}


def tie_averaged_cumsum(score: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted scores, expected cumulative sum of `values`) taking queries by score descending.

    Within a group of tied scores the order is arbitrary, so each prefix that cuts into a tie
    group gets the expected sum over all orders of the group: the sum before the group plus
    j / size of the group's total for j queries taken from it (linear interpolation). Invariant
    to record order. score, values: shape [n].
    """
    order = np.argsort(-score, kind="stable")
    s, v = score[order], np.asarray(values, dtype=float)[order]
    total = np.cumsum(v)
    new_group = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], s.size]
    before = np.r_[0.0, total][starts]
    within = total[ends - 1] - before
    taken = np.arange(s.size) - starts[group] + 1
    return s, before[group] + taken * within[group] / (ends - starts)[group]


def risk_coverage(score: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Risk-coverage curve and AURC (Geifman & El-Yaniv 2017).

    Queries sorted by score descending; risk(k) = misroutes among the first k accepted / k, with
    tied scores averaged over their orders (tie_averaged_cumsum: the result does not depend on
    record order); AURC = mean of risk(k) over k = 1..N. Raises ValueError without queries.
    """
    score, correct = np.asarray(score, dtype=float), np.asarray(correct, dtype=bool)
    if score.size == 0:
        raise ValueError("risk-coverage needs at least one query")
    k = np.arange(1, score.size + 1)
    risk = tie_averaged_cumsum(score, ~correct)[1] / k
    pick = np.unique(np.linspace(0, score.size - 1, min(SWEEP_POINTS, score.size)).astype(int))
    return {
        "aurc": float(risk.mean()),
        "coverage": (k[pick] / score.size).tolist(),
        "risk": risk[pick].tolist(),
    }


def recommended_threshold(score: np.ndarray, ood: np.ndarray, target_fpr: float) -> float:
    """The lowest cut-off t (among the observed scores and just above the top OOD score) with
    OOD false-positive rate mean(score[ood] >= t) <= target_fpr: route when score >= t.

    NaN without OOD queries.
    """
    score, ood = np.asarray(score, dtype=float), np.asarray(ood, dtype=bool)
    if not ood.any():
        return math.nan
    ood_scores = np.sort(score[ood])
    candidates = np.unique(np.append(score, np.nextafter(ood_scores[-1], math.inf)))
    accepted = ood_scores.size - np.searchsorted(ood_scores, candidates, side="left")
    return float(candidates[np.argmax(accepted / ood_scores.size <= target_fpr)])


def threshold_sweep(
    score: np.ndarray, in_dist: np.ndarray, routed_right: np.ndarray
) -> dict[str, list[float]]:
    """Per cut-off t (up to SWEEP_POINTS of the observed scores): in-distribution coverage
    mean(score >= t | gold), in-domain routing accuracy mean(score >= t and routed right | gold)
    and OOD false-positive rate mean(score >= t | no gold)."""
    score, in_dist = np.asarray(score, dtype=float), np.asarray(in_dist, dtype=bool)
    routed_right = np.asarray(routed_right, dtype=bool)
    cuts = np.unique(score)
    cuts = cuts[np.unique(np.linspace(0, cuts.size - 1, min(SWEEP_POINTS, cuts.size)).astype(int))]
    accept = score[None, :] >= cuts[:, None]
    ood = ~in_dist

    def share(mask: np.ndarray, of: np.ndarray) -> list[float]:
        return (mask[:, of].mean(axis=1) if of.any() else np.full(cuts.size, np.nan)).tolist()

    return {
        "threshold": cuts.tolist(),
        "coverage": share(accept, in_dist),
        "accuracy": share(accept & routed_right[None, :], in_dist),
        "ood_fpr": share(accept, ood),
    }
