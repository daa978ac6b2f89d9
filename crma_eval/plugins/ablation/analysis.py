"""Paired comparison of QA arms on the same items: McNemar (or item-level sign flips), Holm, BH.

Arms are matched by crma_eval.pairing (one rule for ablation, bench and gate --baseline). Items
answered once per arm: McNemar on the discordant pairs and Newcombe's paired difference interval.
Items answered several times (seeds, checkpoints): the item is the unit, an exact
sign-flip permutation test on per-item totals of the differences and a cluster-robust (CR1)
interval with a t(items − 1) reference, both of the pooled difference (stats.repeated).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import (
    MDE_METHOD,
    REPEATED_INTERVAL,
    SIGN_FLIP_METHOD,
    benjamini_hochberg,
    comparison_mde,
    conditions,
    holm,
    in_order,
    item_clusters,
    mcnemar,
    metric_name,
    of_condition,
    pair_shared,
    paired_difference_ci,
    put_metrics,
    repeated_difference,
    with_items,
)
from crma_eval.api import AnalysisResult, AnalyzeOptions, MetricInfo, describe

PLUGIN = "ablation"
PAIR_STATS = ("n", "b", "c", "statistic", "pvalue", "diff", "diff_ci_low", "diff_ci_high")
REPEATED_STATS = ("n_items", "n_observations", "design_effect")
POWER_STATS = ("mde",)
KEYS = ["domain", "item_id", "seed", "checkpoint", "condition"]


def item_keys(qa: pd.DataFrame) -> list[str]:
    """Fields that can identify one item across arms (pairing uses those both arms carry)."""
    return [k for k in KEYS if k in qa.columns]


def _independent(x: np.ndarray, y: np.ndarray, options: AnalyzeOptions) -> dict[str, Any]:
    """McNemar and Newcombe's paired accuracy difference of arm x over arm y (one answer/item)."""
    test = mcnemar(
        int(np.count_nonzero(x & ~y)), int(np.count_nonzero(~x & y)), options.mcnemar_method
    )
    diff = paired_difference_ci(x, y, options.confidence)
    return {
        "b": test.b,
        "c": test.c,
        "statistic": test.statistic,
        "pvalue": test.pvalue,
        "diff": diff.estimate,
        "diff_ci_low": diff.low,
        "diff_ci_high": diff.high,
        "method": f"mcnemar-{options.mcnemar_method}",
        "interval": "newcombe-paired-wilson",
    }


def clustered_difference(
    x: np.ndarray, y: np.ndarray, items: np.ndarray, options: AnalyzeOptions
) -> dict[str, Any]:
    """Item-level comparison of repeated paired 0/1 answers (shape [N] each, items: [N] labels).

    One estimand, diff = mean(x - y) over the paired answers (stats.repeated_difference):
    b / c: items whose total x - y is positive / negative. Test: exact sign-flip permutation
    on the per-item totals. Interval: diff ± t(items − 1) * CR1 item-clustered SE, in [-1, 1].
    """
    res = repeated_difference(x.astype(float) - y.astype(float), items, options.confidence,
                              options.seed)  # fmt: skip
    return {
        "b": res.b,
        "c": res.c,
        "statistic": res.estimate,
        "pvalue": res.pvalue,
        "diff": res.estimate,
        "diff_ci_low": res.low,
        "diff_ci_high": res.high,
        "n_items": res.n_items,
        "n_observations": res.n_observations,
        "df": res.df,
        "exact": res.exact,
        "method": SIGN_FLIP_METHOD + ("" if res.exact else " (Monte Carlo)"),
        "interval": REPEATED_INTERVAL,
    }


def _comparison(aligned: pd.DataFrame, options: AnalyzeOptions) -> dict[str, Any]:
    x, y = aligned["x"].to_numpy(bool), aligned["y"].to_numpy(bool)
    items = item_clusters(aligned).to_numpy()
    repeated = bool(pd.Series(items).duplicated().any())
    found = clustered_difference(x, y, items, options) if repeated else _independent(x, y, options)
    found |= comparison_mde(x, y, items if repeated else None, 1 - options.confidence)
    return {"n": int(x.size), **found, "acc_a": float(x.mean()), "acc_b": float(y.mean())}


def _pair(aligned: pd.DataFrame, options: AnalyzeOptions) -> dict[str, Any]:
    """Overall and per-domain comparison of one matched pair (columns domain, item_id, x, y)."""
    overall = _comparison(aligned, options)
    domains = [
        {"domain": domain, **_comparison(g, options)}
        for domain, g in aligned.groupby("domain", sort=False)
    ]
    pvalues = [d["pvalue"] for d in domains]
    for row, by_holm, by_bh in zip(
        domains, holm(pvalues), benjamini_hochberg(pvalues), strict=True
    ):
        row["pvalue_holm"] = by_holm
        row["pvalue_bh"] = by_bh
    return {"overall": overall, "domains": domains}


def shared_units(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Both arms' records on the collection units (checkpoint, domain) both answered.

    An arm may answer at more checkpoints (its own `checkpoints: all`) or more domains (a routed
    arm also asks domains not trained yet) than another; those units have no partner by design
    and are left out, and the returned note counts them. Items inside a shared unit must still
    match one to one (crma_eval.pairing). Arms without checkpoint ids, or whose checkpoint ids
    are all different (two separately trained arms), are returned unchanged: crma_eval.pairing
    then pairs them without the checkpoint, or says the pairing is ambiguous.
    """
    if not all("checkpoint" in f.columns and f["checkpoint"].notna().all() for f in (a, b)):
        return a, b, ""
    if not set(a["checkpoint"].astype(str)) & set(b["checkpoint"].astype(str)):
        return a, b, ""
    units = [pd.MultiIndex.from_frame(f[["checkpoint", "domain"]].astype(str)) for f in (a, b)]
    keep = [u.isin(other) for u, other in zip(units, units[::-1], strict=True)]
    extra = sum(len(set(u[~k])) for u, k in zip(units, keep, strict=True))
    if not extra:
        return a, b, ""
    note = f"{extra} (checkpoint, domain) unit(s) answered by one arm only left out"
    return a[keep[0]], b[keep[1]], note


def _compare_arms(
    qa: pd.DataFrame, condition: Any, options: AnalyzeOptions
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every pair of arms of one condition sharing items; also the arms left unpaired."""
    frame = of_condition(qa, condition).assign(correct=lambda f: f["correct"].astype(bool))
    arms = in_order(frame["arm"])
    by_arm = {arm: g for arm, g in frame.groupby("arm", sort=False)}
    pairs, paired_arms = [], set()
    for i, a in enumerate(arms):
        for b in arms[i + 1 :]:
            names = (f"arm {a!r}", f"arm {b!r}")
            left, right, left_out = shared_units(by_arm[a], by_arm[b])
            matched = pair_shared(left, right, "correct", KEYS, names)
            if matched is None:
                continue
            note = matched.note + (f"; {left_out}" if left_out else "")
            head = {"a": a, "b": b, "condition": condition, "pairing": note}
            pairs.append(head | _pair(with_items(matched.frame), options))
            paired_arms |= {a, b}
    return pairs, [a for a in arms if a not in paired_arms]


def analyze_ablation(qa: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult:
    """Every pair of arms (first-appearance order, per condition) answering the same items.

    With no such pair the result has no metrics and `skipped` says why.
    """
    metrics: dict[str, float] = {}
    info: dict[str, MetricInfo] = {}
    pairs: list[dict[str, Any]] = []
    unpaired: dict[str, list[str]] = {}
    for cond in conditions(qa):
        found, lonely = _compare_arms(qa, cond, options)
        pairs += found
        if lonely:
            unpaired["all" if cond is None else str(cond)] = lonely
    seen = Counter((p["a"], p["b"]) for p in pairs)
    for p in pairs:
        # The condition joins the name only when that pair of arms is compared under several.
        cond = p["condition"] if seen[(p["a"], p["b"])] > 1 else None
        _add_metrics((metrics, info), p, cond, options.confidence)
    tests = {d.get("method") for p in pairs for d in (p["overall"], *p["domains"])}
    methods = {
        "test": "; ".join(sorted(t for t in tests if t)) or f"mcnemar-{options.mcnemar_method}",
        "diff_ci": "newcombe-paired-wilson (one answer per item); "
        f"{REPEATED_INTERVAL} clipped to [-1, 1] (repeated items)",
        "multiplicity": "holm and benjamini-hochberg across the domains of one pair of arms",
        "pairing": "crma_eval.pairing: every key both arms carry",
        "unit": "item (domain, item_id); repeated answers of an item (seeds, checkpoints) are "
        "one cluster: n_items items, n_observations paired answers",
        "confidence": str(options.confidence),
        "mde": MDE_METHOD,
    }
    details = {"arms": in_order(qa["arm"]), "pairs": pairs, "unpaired": unpaired}
    result = AnalysisResult(metrics, details, methods, metric_info=info)
    if not pairs:
        result.skipped = (
            f"no two qa arms answered the same items (arms: {', '.join(map(str, details['arms']))})"
        )
    return result


def pair_label(a: str, b: str) -> str:
    """The metric segment of a pair of arms, `<a>_vs_<b>`."""
    return f"{a}_vs_{b}"


def _add_metrics(
    out: tuple[dict[str, float], dict[str, MetricInfo]],
    pair: dict[str, Any],
    condition: Any,
    confidence: float,
) -> None:
    metrics, info = out
    label = (PLUGIN, pair_label(pair["a"], pair["b"]), condition)
    overall = pair["overall"]
    named = (*PAIR_STATS, *REPEATED_STATS, *POWER_STATS)
    names = put_metrics(metrics, label, {k: overall[k] for k in named if k in overall})
    info |= _info(names, label, pair, overall, confidence)
    for row in pair["domains"]:
        stats = {k: row[k] for k in (*named, "pvalue_holm", "pvalue_bh") if k in row}
        names = put_metrics(metrics, (*label, row["domain"]), stats)
        info |= _info(names, (*label, row["domain"]), pair, row, confidence)


def _info(
    names: list[str],
    parts: tuple[Any, ...],
    pair: dict[str, Any],
    row: dict[str, Any],
    confidence: float,
) -> dict[str, MetricInfo]:
    """Catalogue entries of one comparison row: the difference's unit is the item."""
    where = f"domain {row['domain']}" if "domain" in row else "all domains"
    what = f"accuracy of arm {pair['a']} minus arm {pair['b']} on the same items, {where}"
    interval = row.get("interval")
    n = int(row.get("n_items", row["n"]))
    out = describe(
        names, metric_name(*parts), "diff", what, unit="item", n=n,
        method="mean paired difference", interval=interval, test=row.get("method"),
        confidence=confidence, direction="higher",
    )  # fmt: skip
    for stat in ("pvalue_holm", "pvalue_bh"):
        name = metric_name(*parts, stat)
        if name in out:
            method = "holm" if stat == "pvalue_holm" else "benjamini-hochberg"
            out[name] = replace(out[name], method=f"{method} across the domains of this pair")
    repeated = "n_items" in row
    for stat, arm, other in (("b", pair["a"], pair["b"]), ("c", pair["b"], pair["a"])):
        name = metric_name(*parts, stat)
        if name in out:
            out[name] = replace(out[name], estimand=count_words(arm, other, repeated, where))
    return out


def count_words(arm: str, other: str, repeated: bool, where: str = "") -> str:
    """What b (arm = the first arm) or c counts: items, never answers. Answered once per arm:
    items right under `arm` only; answered several times: items with more answers right under
    `arm` than under `other` (the item-level sign-flip test's per-item totals)."""
    what = (
        f"items with more answers right under {arm} than under {other}"
        if repeated
        else f"items right under {arm} only (wrong under {other})"
    )
    return f"{what}, {where}" if where else what
