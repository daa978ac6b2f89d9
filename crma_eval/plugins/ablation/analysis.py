"""Paired comparison of QA arms on the same items: McNemar, accuracy difference CI, Holm."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crma_eval.errors import InputError
from crma_eval.fmt import in_order, put_metrics, where
from crma_eval.plugins.base import AnalysisResult, AnalyzeOptions
from crma_eval.stats import holm, mcnemar, paired_difference_ci

PLUGIN = "ablation"
PAIR_STATS = ("n", "b", "c", "statistic", "pvalue", "diff", "diff_ci_low", "diff_ci_high")


def item_keys(qa: pd.DataFrame) -> list[str]:
    """Fields identifying one item across arms: domain, item_id (+ seed, checkpoint if present)."""
    return ["domain", "item_id"] + [c for c in ("seed", "checkpoint") if c in qa.columns]


def _describe(row: pd.Series, keys: list[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in keys if not pd.isna(row[k]))


def _check_matched(qa: pd.DataFrame, keys: list[str], a: str, b: str, only: np.ndarray) -> None:
    """Raise InputError naming the first record (file order) of an item only one arm answered."""
    if not only.any():
        return
    rows = qa[only]
    first = rows.iloc[0]
    other = b if first["arm"] == a else a
    examples = "; ".join(_describe(r, keys) for _, r in rows.head(3).iterrows())
    raise InputError(
        f"arms {a!r} and {b!r} share items but not all of them: arm {first['arm']!r} has "
        f"({_describe(first, keys)}) with no match in arm {other!r}; {len(rows)} unmatched "
        f"record(s), first ones: {examples}. Paired arms must answer the same items.",
        **where(first),
    )


def _comparison(x: np.ndarray, y: np.ndarray, options: AnalyzeOptions) -> dict[str, Any]:
    """McNemar and the paired accuracy difference of arm x over arm y."""
    test = mcnemar(
        int(np.count_nonzero(x & ~y)), int(np.count_nonzero(~x & y)), options.mcnemar_method
    )
    diff = paired_difference_ci(x, y, options.confidence)
    return {
        "n": int(x.size),
        "b": test.b,
        "c": test.c,
        "statistic": test.statistic,
        "pvalue": test.pvalue,
        "diff": diff.estimate,
        "diff_ci_low": diff.low,
        "diff_ci_high": diff.high,
        "acc_a": float(x.mean()),
        "acc_b": float(y.mean()),
    }


def _pair(aligned: pd.DataFrame, options: AnalyzeOptions) -> dict[str, Any]:
    """Overall and per-domain comparison of one matched pair (columns domain, x, y)."""
    overall = _comparison(aligned["x"].to_numpy(), aligned["y"].to_numpy(), options)
    domains = [
        {"domain": domain, **_comparison(g["x"].to_numpy(), g["y"].to_numpy(), options)}
        for domain, g in aligned.groupby("domain", sort=False)
    ]
    for row, adjusted in zip(domains, holm([d["pvalue"] for d in domains]), strict=True):
        row["pvalue_holm"] = adjusted
    return {"overall": overall, "domains": domains}


def analyze_ablation(qa: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult | None:
    """Every pair of arms (first-appearance order) that answered the same items; None if none."""
    keys = item_keys(qa)
    frame = pd.DataFrame(
        {
            "arm": qa["arm"],
            "key": qa.groupby(keys, sort=False, dropna=False).ngroup(),
            "domain": qa["domain"],
            "correct": qa["correct"].astype(bool),
        }
    )
    arms = in_order(frame["arm"])
    by_arm = {arm: g.set_index("key") for arm, g in frame.groupby("arm", sort=False)}
    metrics: dict[str, float] = {}
    pairs = []
    for i, a in enumerate(arms):
        for b in arms[i + 1 :]:
            left, right = by_arm[a], by_arm[b]
            shared = left.index.isin(right.index)
            if not shared.any():
                continue
            in_pair = frame["arm"].isin((a, b)).to_numpy()
            only = in_pair & ~frame["key"].isin(left.index.intersection(right.index)).to_numpy()
            _check_matched(qa, keys, a, b, only)
            aligned = pd.DataFrame(
                {
                    "domain": left["domain"],
                    "x": left["correct"],
                    "y": right["correct"].reindex(left.index),
                }
            )
            pair = {"a": a, "b": b, **_pair(aligned, options)}
            pairs.append(pair)
            _add_metrics(metrics, pair)
    if not pairs:
        return None
    methods = {
        "test": f"mcnemar-{options.mcnemar_method}",
        "diff_ci": "newcombe-paired-wilson",
        "multiplicity": "holm",
        "confidence": str(options.confidence),
    }
    return AnalysisResult(metrics=metrics, details={"arms": arms, "pairs": pairs}, methods=methods)


def pair_label(a: str, b: str) -> str:
    """The metric segment of a pair of arms, `<a>_vs_<b>`."""
    return f"{a}_vs_{b}"


def _add_metrics(metrics: dict[str, float], pair: dict[str, Any]) -> None:
    label = pair_label(pair["a"], pair["b"])
    put_metrics(metrics, (PLUGIN, label), {k: pair["overall"][k] for k in PAIR_STATS})
    for row in pair["domains"]:
        stats = {k: row[k] for k in (*PAIR_STATS, "pvalue_holm")}
        put_metrics(metrics, (PLUGIN, label, row["domain"]), stats)
