"""The scale of each lm-eval metric, from the metric's definition (never from observed values).

fraction: a proportion in [0, 1] (acc, acc_norm, exact_match, TruthfulQA mc1/mc2, f1...), its
  differences in percentage points (pp = 100 × difference);
percent: a proportion already in [0, 100], differences in pp as they are;
points: a bounded score that is no proportion (sacrebleu's BLEU, chrF, TER and the ROUGE/BLEU
  maxima of truthfulqa_gen, on 0-100), differences in points;
unbounded: rolling log-likelihood metrics (perplexities, bits per byte), compared as ratios or
  in bits (crma_eval.plugins.bench.continuous);
unknown: any other metric: differences in the metric's own units, no range assumed.
`options.bench.scales` (metric -> scale) overrides the table for a task's own metrics.
"""

from __future__ import annotations

from collections.abc import Mapping

from crma_eval import InputError
from crma_eval.plugins.bench.continuous import UNBOUNDED

SCALES = ("fraction", "percent", "points", "unbounded", "unknown")
# lm-eval's registered and task-level metrics that are proportions in [0, 1]
# (lm_eval/api/metrics.py: acc, acc_norm, acc_mutual_info, exact_match, f1 (aggregated), mcc is
# in [-1, 1] and left unknown; truthfulqa utils: mc1/mc2, *_acc).
FRACTION: frozenset[str] = frozenset(
    {
        "acc", "acc_norm", "acc_bytes", "acc_mutual_info", "exact_match", "em", "f1", "mc1",
        "mc2", "bleu_acc", "rouge1_acc", "rouge2_acc", "rougeL_acc", "brier_score",
        "prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc",
        "inst_level_loose_acc", "pass@1", "contains",
    }
)  # fmt: skip
# 0-100 scores that are not proportions (sacrebleu; truthfulqa_gen maxima and differences)
POINTS: frozenset[str] = frozenset(
    {
        "bleu", "chrf", "ter", "bleu_max", "bleu_diff", "rouge1_max", "rouge1_diff",
        "rouge2_max", "rouge2_diff", "rougeL_max", "rougeL_diff",
    }
)  # fmt: skip
# bounds of each scale (None: no bound)
RANGE: dict[str, tuple[float, float] | None] = {
    "fraction": (0.0, 1.0),
    "percent": (0.0, 100.0),
    "points": None,
    "unbounded": None,
    "unknown": None,
}


def metric_scale(metric: str, overrides: Mapping[str, str] | None = None) -> str:
    """The scale of an lm-eval metric: the configured one, else from the table above."""
    chosen = (overrides or {}).get(metric)
    if chosen is not None:
        if chosen not in SCALES:
            raise InputError(
                f"options.bench.scales.{metric}: unknown scale {chosen!r} "
                f"(one of {', '.join(SCALES)})"
            )
        return chosen
    if metric in UNBOUNDED:
        return "unbounded"
    if metric in FRACTION:
        return "fraction"
    if metric in POINTS:
        return "points"
    return "unknown"


def pp_factor(scale: str) -> float | None:
    """Multiplier from a difference to percentage points; None for scales that are no
    proportion (their differences are shown in the metric's units)."""
    return {"fraction": 100.0, "percent": 1.0}.get(scale)
