"""Routing-conditional forgetting: the QA accuracy gap between the oracle and routed arms, split
into what misrouting costs and what the model costs, on items answered under both arms.

Per paired item (same domain, item_id, and seed/checkpoint where recorded): r = routed arm right,
o = oracle arm right, m = misrouted (the router abstained or picked another domain).
gap = mean(o) - mean(r) = gap_routing + gap_model with gap_routing = mean(m * (o - r)) and
gap_model = mean((1 - m) * (o - r)); routing_share = gap_routing / gap; retained = mean(r) /
mean(o). The routed arm's outcomes split as misrouted_wrong + misrouted_right +
routed_right_wrong + routed_right_right = 1 (shares of the paired items).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import mcnemar_from_pairs, repeated_difference, rows_bootstrap_ci
from crma_eval.api import AnalyzeOptions

KEYS = ("domain", "item_id", "seed", "checkpoint")
MAX_LISTED = 200


def default_routed_arm(qa: pd.DataFrame) -> str | None:
    """The one arm whose records name a routed domain (None if none or several)."""
    if "routed_domain" not in qa.columns:
        return None
    arms = qa.loc[qa["routed_domain"].notna(), "arm"].unique()
    return str(arms[0]) if len(arms) == 1 else None


def paired_items(qa: pd.DataFrame, routed_arm: str, oracle_arm: str) -> pd.DataFrame:
    """Inner join of the two arms on KEYS present: columns of KEYS, routed_domain, r, o, m."""
    keys = [k for k in KEYS if k in qa.columns]
    routed_domain = qa["routed_domain"] if "routed_domain" in qa.columns else None
    frame = qa.assign(routed_domain=routed_domain)[[*keys, "arm", "correct", "routed_domain"]]
    frame = frame.astype({k: "string" for k in keys}).fillna({k: "-" for k in keys})
    routed = frame[frame["arm"] == routed_arm].rename(columns={"correct": "r"})
    oracle = frame[frame["arm"] == oracle_arm].rename(columns={"correct": "o"})
    pairs = routed.drop(columns="arm").merge(
        oracle[[*keys, "o"]], on=keys, how="inner", validate="one_to_one"
    )
    pairs["r"], pairs["o"] = pairs["r"].astype(bool), pairs["o"].astype(bool)
    pairs["m"] = pairs["routed_domain"].isna() | (pairs["routed_domain"] != pairs["domain"])
    return pairs


def _ratio(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def _retained(r: np.ndarray, o: np.ndarray, m: np.ndarray) -> float:
    return _ratio(r.mean(), o.mean())


def _gap(r: np.ndarray, o: np.ndarray, m: np.ndarray) -> float:
    return float(o.mean() - r.mean())


def _routing_share(r: np.ndarray, o: np.ndarray, m: np.ndarray) -> float:
    diff = o.astype(float) - r.astype(float)
    return _ratio(float((diff * m).mean()), float(diff.mean()))


STATS = {"retained": _retained, "gap": _gap, "routing_share": _routing_share}


def item_labels(pairs: pd.DataFrame) -> np.ndarray | None:
    """Integer item (domain, item_id) of each pair when some item is paired several times
    (seeds, checkpoints), else None (each pair is its own item)."""
    items = pairs.groupby(["domain", "item_id"], sort=False).ngroup().to_numpy()
    return items if pd.Series(items).duplicated().any() else None


def _test(r: np.ndarray, o: np.ndarray, items: np.ndarray | None, options: AnalyzeOptions
          ) -> tuple[dict[str, float], str]:  # fmt: skip
    """Paired test of routed vs oracle: McNemar on single answers, else the item-level exact
    sign-flip test on per-item totals of r - o (b / c = items with routed / oracle ahead)."""
    if items is None:
        test = mcnemar_from_pairs(r, o, options.mcnemar_method)
        stats = {"mcnemar_b": float(test.b), "mcnemar_c": float(test.c), "pvalue": test.pvalue}
        return stats, f"{r.size} paired items; McNemar {options.mcnemar_method}"
    res = repeated_difference(r.astype(float) - o.astype(float), items, options.confidence,
                              options.seed)  # fmt: skip
    stats = {
        "n": float(res.n_items),
        "n_observations": float(res.n_observations),
        "items_b": float(res.b),
        "items_c": float(res.c),
        "pvalue": res.pvalue,
    }
    method = (
        f"item-level sign-flip permutation test ({'exact' if res.exact else 'Monte Carlo'}) on "
        f"per-item totals of routed - oracle, {res.n_items} items answered "
        f"{res.n_observations} times (seeds / checkpoints); pooled, not McNemar on answers"
    )
    return stats, method


def attribution(pairs: pd.DataFrame, options: AnalyzeOptions) -> tuple[dict[str, float], str]:
    """Accuracies, gap split, outcome shares, bootstrap CIs and the paired test; and the method.

    Intervals: percentile bootstrap over paired items (rows_bootstrap_ci, options.seed), whole
    items resampled when an item is paired several times. Test: McNemar (options.mcnemar_method)
    on routed vs oracle correctness, b = routed right and oracle wrong, c = routed wrong and
    oracle right; when items repeat, the item-level test of `_test` with n = distinct items.
    """
    r, o, m = (pairs[c].to_numpy(bool) for c in ("r", "o", "m"))
    items = item_labels(pairs)
    diff = o.astype(float) - r.astype(float)
    out: dict[str, float] = {
        "n": float(r.size),
        "routed_accuracy": float(r.mean()),
        "oracle_accuracy": float(o.mean()),
        "misrouted": float(m.mean()),
        "gap_routing": float((diff * m).mean()),
        "gap_model": float((diff * ~m).mean()),
        "misrouted_wrong": float((m & ~r).mean()),
        "misrouted_right": float((m & r).mean()),
        "routed_right_wrong": float((~m & ~r).mean()),
        "routed_right_right": float((~m & r).mean()),
    }
    for name, stat in STATS.items():
        out[name] = stat(r, o, m)
        if r.size >= 2:
            ci = rows_bootstrap_ci(
                stat, (r, o, m), options.confidence, seed=options.seed, clusters=items
            )
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci.low, ci.high
    test, method = _test(r, o, items, options)
    boot = "whole items" if items is not None else "items"
    return out | test, f"paired items; percentile bootstrap over {boot}; {method}"


def listed_items(pairs: pd.DataFrame) -> list[dict[str, Any]]:
    """Misrouted or discordant items for the drill-down (first MAX_LISTED, in record order)."""
    shown = pairs[pairs["m"] | (pairs["r"] != pairs["o"])].head(MAX_LISTED)
    return [
        {
            "domain": row["domain"],
            "item_id": row["item_id"],
            "routed_domain": row["routed_domain"],
            "routed_correct": bool(row["r"]),
            "oracle_correct": bool(row["o"]),
        }
        for _, row in shown.iterrows()
    ]
