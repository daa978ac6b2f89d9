"""Catalogue entries (crma_eval.api.catalogue) of the router plugin's metrics: queries are the
unit of the routing numbers, paired qa items the unit of the oracle gap."""

from __future__ import annotations

from typing import Any

from crma_eval.api import MetricInfo, describe, describe_family

PLUGIN = "router"
BOOT = "percentile bootstrap"
OOD = {
    "auroc": "AUROC of the routing score, in-distribution queries positive",
    "aupr": "average precision of the routing score, in-distribution queries positive",
    "fpr_at_95tpr": "share of OOD queries accepted at the first threshold with TPR >= 0.95",
}
F1 = {
    "macro_f1": "macro-F1 of the routed domain over queries with a gold domain",
    "macro_f1_ood_fp": "macro-F1 counting an OOD query routed to a domain as a false positive",
}
GAP = {
    "gap": "oracle minus routed accuracy on the same items",
    "retained": "routed accuracy as a share of the oracle's",
    "routing_share": "share of the oracle gap on misrouted items",
}
SHARES = {
    "routed_accuracy": "routed arm's accuracy on the paired items",
    "oracle_accuracy": "oracle arm's accuracy on the paired items",
    "misrouted": "share of paired items misrouted",
    "gap_routing": "part of the gap on misrouted items",
    "gap_model": "part of the gap on correctly routed items",
    "misrouted_wrong": "share of items misrouted and answered wrong",
    "misrouted_right": "share of items misrouted and answered right",
    "routed_right_wrong": "share of items routed right and answered wrong",
    "routed_right_right": "share of items routed right and answered right",
}
# Which way is better (crma_eval.api.catalogue directions); a stat not named here: unknown.
LOWER = frozenset(
    {"fpr_at_95tpr", "ece", "aurc", "gap", "misrouted", "gap_routing", "gap_model",
     "misrouted_wrong", "routed_right_wrong"}
)  # fmt: skip
HIGHER = frozenset(
    {"accuracy", "macro_f1", "macro_f1_ood_fp", "auroc", "aupr", "retained",
     "routed_accuracy", "oracle_accuracy", "routed_right_right"}
)  # fmt: skip


def direction(stat: str) -> str | None:
    """Which is better for a router stat, "higher" or "lower"; None for thresholds, shares."""
    return "lower" if stat in LOWER else "higher" if stat in HIGHER else None


def _n(metrics: dict[str, float], prefix: str) -> int | None:
    for stat in ("n_queries", "n_items", "n"):
        value = metrics.get(f"{prefix}.{stat}")
        if value is not None:
            return int(value)
    return None


def _accuracy(
    metrics: dict[str, float], ci: str, confidence: float, clustered: str = "clustered-cr1"
) -> dict[str, MetricInfo]:
    """router.<category>.* and router.overall.*: share of queries routed to the gold domain."""
    out: dict[str, MetricInfo] = {}
    prefixes = {m.rsplit(".", 1)[0] for m in metrics if m.endswith(".accuracy")}
    for prefix in sorted(prefixes - {f"{PLUGIN}.oracle_gap"}):
        group = prefix.split(".", 1)[1]
        own = [m for m in metrics if m.startswith(f"{prefix}.") and ".macro_f1" not in m]
        pooled = f"{prefix}.n_observations" in metrics  # several routers: clustered by query
        out |= describe(
            own, prefix, "accuracy", f"share of {group} queries routed to the right domain",
            unit="query", n=_n(metrics, prefix),
            method="pooled over checkpoints' decisions" if pooled else "k/n",
            interval=clustered if pooled else ci, confidence=confidence, direction="higher",
        )  # fmt: skip
    for stat, words in F1.items():
        out |= describe_family(
            metrics, f"{PLUGIN}.overall", stat, words, unit="query", n=_gold(metrics),
            method="macro-F1 (sklearn)", interval=BOOT, confidence=confidence,
            direction=direction(stat),
        )  # fmt: skip
    return out


def _gold(metrics: dict[str, float]) -> int | None:
    """Queries with a gold domain: all queries but the OOD ones."""
    every, ood = _n(metrics, f"{PLUGIN}.overall"), _n(metrics, f"{PLUGIN}.ood") or 0
    return None if every is None else every - ood


def _ood(metrics: dict[str, float], confidence: float) -> dict[str, MetricInfo]:
    out: dict[str, MetricInfo] = {}
    every = _n(metrics, f"{PLUGIN}.overall")
    for stat, words in OOD.items():
        out |= describe_family(
            metrics, f"{PLUGIN}.ood", stat, words, unit="query", n=every, method=stat,
            interval=BOOT, confidence=confidence, direction=direction(stat),
        )  # fmt: skip
    single = {
        f"{PLUGIN}.calibration.ece": ("expected calibration error of the routing score", "ece"),
        f"{PLUGIN}.selective.aurc": ("area under the risk-coverage curve", "aurc"),
        f"{PLUGIN}.threshold.recommended": (
            "routing-score threshold meeting the target OOD false-positive rate",
            "threshold",
        ),
    }
    for name, (words, method) in single.items():
        if name in metrics:
            scale, n = ("score", every) if method == "threshold" else ("fraction", _gold(metrics))
            out[name] = MetricInfo(
                "estimate", words, unit="query", n=n, method=method, scale=scale,
                direction=direction(method),
            )  # fmt: skip
    return out


def _oracle_gap(metrics: dict[str, float], confidence: float, test: str) -> dict[str, MetricInfo]:
    prefix = f"{PLUGIN}.oracle_gap"
    # The unit is the item: one paired answer, or the item's answers under several seeds /
    # checkpoints (then n counts distinct items and the test is the item-level sign-flip test).
    item_level = f"{prefix}.items_b" in metrics
    if item_level:
        test = "sign-flip-permutation"
    common: dict[str, Any] = {"unit": "item" if item_level else "paired answer",
                              "n": _n(metrics, prefix)}  # fmt: skip
    out: dict[str, MetricInfo] = {}
    for stat, words in GAP.items():
        out |= describe_family(
            metrics, prefix, stat, words, method="paired items", interval=BOOT,
            confidence=confidence, direction=direction(stat), **common,
        )  # fmt: skip
    for stat, words in SHARES.items():
        if f"{prefix}.{stat}" in metrics:
            out[f"{prefix}.{stat}"] = MetricInfo(
                "estimate", words, scale="fraction", direction=direction(stat), **common
            )
    gap = f"{prefix}.gap"
    counts = {
        "n": "paired items",
        "mcnemar_b": "items right routed only",
        "mcnemar_c": "items right under the oracle only",
        "n_observations": "paired answers (items under several seeds / checkpoints)",
        "items_b": "items whose routed-minus-oracle total is positive",
        "items_c": "items whose routed-minus-oracle total is negative",
    }
    for stat, words in counts.items():
        if f"{prefix}.{stat}" in metrics:
            out[f"{prefix}.{stat}"] = MetricInfo("count", words, scale="count", of=gap, **common)
    if f"{prefix}.pvalue" in metrics:
        words = (
            "p-value of the item-level sign-flip test, routed vs oracle arm on the same items"
            if item_level
            else "p-value of McNemar's test, routed vs oracle arm on the same items"
        )
        out[f"{prefix}.pvalue"] = MetricInfo("pvalue", words, method=test, of=gap, **common)
    return out


def router_info(metrics: dict[str, float], methods: dict[str, Any]) -> dict[str, MetricInfo]:
    """Entries of every router metric (the interval method from the analysis `methods`)."""
    confidence = float(methods.get("confidence", 0.95))
    mcnemar = str(methods.get("oracle_gap", "")).rsplit("McNemar ", 1)[-1]
    return (
        _accuracy(metrics, str(methods.get("ci", "wilson")), confidence)
        | _ood(metrics, confidence)
        | _oracle_gap(metrics, confidence, f"mcnemar-{mcnemar}")
    )
