"""Catalogue entries (crma_eval.api.catalogue) of the drift plugin's metrics: seeds are the unit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crma_eval import metric_name
from crma_eval.api import MetricInfo, describe

PLUGIN = "drift"
DRIFT = "loss-relative drift (L(T,d) − L(d,d)) / L(d,d) × 100, mean over d < T"
HOLDOUT = "final holdout loss (mean NLL per token over all domains after the last phase)"
SCALES = {"drift": "percent", "holdout": "nats per token", "advantage": "percent"}
WORDS = {"drift": DRIFT, "holdout": HOLDOUT}
PP = "percentage points"  # a difference of two drifts (each in percent)
# Which way is better: less drift (forgetting) and lower holdout loss; a larger advantage.
DIRECTIONS = {"drift": "lower", "holdout": "lower", "advantage": "higher"}


def _per_seed(metrics: dict[str, float], prefix: str, what: str) -> dict[str, MetricInfo]:
    """One seed's drift / holdout / advantage (each an estimate of that seed alone)."""
    out = {}
    for stat, scale in SCALES.items():
        name = f"{prefix}.{stat}"
        if name in metrics:
            words = f"{WORDS.get(stat, 'learning advantage')}, {what}"
            out[name] = MetricInfo(
                "estimate", words, unit="seed", n=1, scale=scale, direction=DIRECTIONS[stat]
            )
    return out


def _condition(metrics: dict[str, float], cond: dict[str, Any]) -> dict[str, MetricInfo]:
    name, n = cond["condition"], len(cond["seeds"])
    out: dict[str, MetricInfo] = {}
    for quantity in ("drift", "holdout"):
        out |= describe(
            metrics, metric_name(PLUGIN, name, quantity), "mean",
            f"{WORDS[quantity]}, condition {name}, mean over seeds", unit="seed", n=n,
            method="mean over seeds; sample std (ddof=1)", scale=SCALES[quantity],
            direction=DIRECTIONS[quantity],
        )  # fmt: skip
    for seed in cond["seeds"]:
        prefix = metric_name(PLUGIN, name, f"seed_{seed['seed']}")
        out |= _per_seed(metrics, prefix, f"condition {name}, seed {seed['seed']}")
    for domain in cond["domains"]:
        out |= describe(
            metrics, metric_name(PLUGIN, name, domain["domain"], "drift"), "mean",
            f"drift of domain {domain['domain']}, condition {name}, mean over seeds",
            unit="seed", n=int(domain["n"]), method="mean over seeds", scale="percent",
            direction="lower",
        )  # fmt: skip
    return out


def _advantage(metrics: dict[str, float], adv: dict[str, Any]) -> dict[str, MetricInfo]:
    label = f"{adv['a']}_over_{adv['b']}"
    what = f"learning advantage of {adv['a']} over {adv['b']} (holdout_B − holdout_A) / holdout_B"
    out = describe(
        metrics, metric_name(PLUGIN, label, "advantage"), "mean", f"{what}, mean over seeds",
        unit="seed", n=len(adv["seeds"]), method="mean over matched seeds; sample std (ddof=1)",
        scale="percent", direction="higher",
    )  # fmt: skip
    for seed, _ in adv["seeds"]:
        out |= _per_seed(
            metrics, metric_name(PLUGIN, label, f"seed_{seed}"), f"{what}, seed {seed}"
        )
    return out


def _test(metrics: dict[str, float], test: dict[str, Any], n: int) -> dict[str, MetricInfo]:
    """Welch, permutation, disjointness and MDE of drift a vs b. Every condition has the same
    seeds (matrix.check_seeds), so the difference of mean drifts these test is the estimate
    `<a>_vs_<b>.paired.diff` (the mean of per-seed differences): their `of`."""
    label = f"{test['a']}_vs_{test['b']}"
    what = f"difference in mean drift (pp), {test['a']} minus {test['b']}"
    kind = "exact" if test["permutation"]["exact"] else "monte-carlo"
    estimate = metric_name(PLUGIN, label, "paired", "diff")
    of = estimate if estimate in metrics else None
    common: dict[str, Any] = {"unit": "seed", "n": n}
    found: dict[str, MetricInfo] = {}
    for part, method in (("welch", "welch-t"), ("permutation", f"permutation-{kind}")):
        prefix = metric_name(PLUGIN, label, part)
        found |= describe(metrics, prefix, None, what, test=method, direction="lower", **common)
    disjoint = f"per-seed drift ranges disjoint, {what}"
    found |= describe(metrics, metric_name(PLUGIN, label), None, disjoint, test="ranges", **common)
    out = {name: replace(info, of=of) for name, info in found.items()}
    mde = metric_name(PLUGIN, label, "mde")
    if mde in metrics:
        words = f"minimum detectable {what} (80% power, two-sided alpha = 1 − confidence)"
        method = "two-sample t power, pooled sd (statsmodels TTestIndPower)"
        out[mde] = MetricInfo("design", words, method=method, scale=PP, of=of, **common)
    return out


def drift_info(metrics: dict[str, float], details: dict[str, Any]) -> dict[str, MetricInfo]:
    """Entries for every drift metric, from the analysis details (conditions, advantages, tests)."""
    seeds = {c["condition"]: len(c["seeds"]) for c in details["conditions"]}
    out: dict[str, MetricInfo] = {}
    for cond in details["conditions"]:
        out |= _condition(metrics, cond)
    for adv in details["advantages"]:
        out |= _advantage(metrics, adv)
    for test in details["tests"]:
        out |= _test(metrics, test, seeds.get(test["a"], 0) + seeds.get(test["b"], 0))
        if "paired" in test:
            out |= _paired(metrics, test, float(details.get("confidence", 0.95)))
    return out


def _paired(
    metrics: dict[str, float], test: dict[str, Any], confidence: float
) -> dict[str, MetricInfo]:
    """drift.<a>_vs_<b>.paired.*: the paired-by-seed test (conditions share seeds)."""
    prefix = metric_name(PLUGIN, f"{test['a']}_vs_{test['b']}", "paired")
    n = int(test["paired"]["n"])
    pair = f"{test['a']} minus {test['b']}"
    words = f"mean per-seed difference in drift (pp), {pair} (paired by seed)"
    own = [m for m in metrics if m.startswith(f"{prefix}.") and ".sign_flip_" not in m]
    out = describe(
        own, prefix, "diff", words, unit="seed", n=n, method="mean of per-seed differences",
        interval="paired-t", test="paired-t", scale=PP, confidence=confidence,
        direction="lower",  # a minus b in drift: higher = a forgets more
    )  # fmt: skip
    common: dict[str, Any] = {"unit": "seed", "n": n, "of": f"{prefix}.diff"}
    method = "sign-flip-permutation"
    for stat, role in (("sign_flip_pvalue", "pvalue"), ("sign_flip_exact", "flag")):
        if f"{prefix}.{stat}" in metrics:
            text = f"{'p-value' if role == 'pvalue' else 'exact'} of the sign-flip test of {words}"
            out[f"{prefix}.{stat}"] = MetricInfo(role, text, method=method, **common)
    return out
