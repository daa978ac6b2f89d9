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

from crma_eval import mcnemar_from_pairs, rows_bootstrap_ci
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


def attribution(pairs: pd.DataFrame, options: AnalyzeOptions) -> dict[str, float]:
    """Accuracies, gap split, outcome shares, bootstrap CIs and the McNemar test of the pairs.

    Intervals: percentile bootstrap over paired items (rows_bootstrap_ci, options.seed).
    Test: McNemar (options.mcnemar_method) on routed vs oracle correctness; b = routed right and
    oracle wrong, c = routed wrong and oracle right.
    """
    r, o, m = (pairs[c].to_numpy(bool) for c in ("r", "o", "m"))
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
            ci = rows_bootstrap_ci(stat, (r, o, m), options.confidence, seed=options.seed)
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci.low, ci.high
    test = mcnemar_from_pairs(r, o, options.mcnemar_method)
    out |= {"mcnemar_b": float(test.b), "mcnemar_c": float(test.c), "pvalue": test.pvalue}
    return out


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
