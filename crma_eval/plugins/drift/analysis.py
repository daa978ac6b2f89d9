"""Drift plugin numbers: per-seed drift and holdout, summaries, advantages and group tests."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import (
    InputError,
    group_summary,
    in_order,
    paired_t,
    permutation_test,
    put_metrics,
    ranges_disjoint,
    seeds_mde,
    sign_flip_test,
    welch_t,
)
from crma_eval.api import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.drift.catalogue import drift_info
from crma_eval.plugins.drift.matrix import (
    SeedRun,
    bounded,
    check_phases,
    check_seeds,
    mean_matrix,
    out_of_bound,
    seed_runs,
)

PLUGIN = "drift"
# Conditions always share seeds (check_seeds), and the learning advantage pairs them by seed.
PAIRED_TEST = (
    "paired by seed: paired t on per-seed drift differences with its t-interval (n - 1 df; "
    "undefined for essentially constant differences) and the exact sign-flip test beside it; "
    "welch-t and the two-sample permutation test (seeds as independent) kept for comparison"
)


def _summary(values: list[float]) -> dict[str, float]:
    return asdict(group_summary(values))


def _advantage(runs_a: list[SeedRun], runs_b: list[SeedRun]) -> list[tuple[int, float]]:
    """(seed, learning advantage of A over B in percent), seeds matched."""
    holdout_b = {r.seed: r.holdout for r in runs_b}
    for run in runs_b:
        if run.holdout == 0:
            raise InputError(
                f"the final holdout loss of condition {run.condition!r}, seed {run.seed} is 0, so "
                "learning advantages relative to it are undefined",
                field="loss",
                path=run.file,
            )
    out = [(r.seed, (holdout_b[r.seed] - r.holdout) / holdout_b[r.seed] * 100) for r in runs_a]
    for (seed, value), run in zip(out, runs_a, strict=True):
        if not bounded(value):
            raise out_of_bound(
                f"the learning advantage of condition {run.condition!r}, seed {seed} is "
                f"{value:.3g} % (final holdout loss {run.holdout:.3g} against "
                f"{holdout_b[seed]:.3g})",
                path=run.file,
            )
    return out


def _paired(a: list[float], b: list[float], options: AnalyzeOptions) -> dict[str, Any]:
    """Paired-by-seed tests of drift a - b (seeds in the same order): paired t with its
    t-interval, and the exact sign-flip test of the per-seed differences."""
    t = paired_t(a, b, options.confidence)
    flip = sign_flip_test(np.subtract(a, b), seed=options.seed)
    return {
        "n": t.n,
        "diff": t.mean,
        "diff_ci_low": t.low,
        "diff_ci_high": t.high,
        "statistic": t.statistic,
        "df": t.df,
        "pvalue": t.pvalue,
        "sign_flip_pvalue": flip.pvalue,
        "sign_flip_exact": flip.exact,
    }


def _tests(a: list[float], b: list[float], options: AnalyzeOptions) -> dict[str, Any]:
    """Welch's t (NaN below 2 seeds a side), exact permutation test, range disjointness and the
    paired-by-seed tests (a and b list the same seeds in the same order)."""
    nan = {"statistic": math.nan, "pvalue": math.nan, "df": math.nan}
    welch = asdict(welch_t(a, b)) if min(len(a), len(b)) >= 2 else nan
    perm = permutation_test(a, b, alternative="two-sided", seed=options.seed)
    greater, less = (
        permutation_test(a, b, alternative=side, seed=options.seed).pvalue
        for side in ("greater", "less")
    )
    return {
        "welch": welch,
        "permutation": {
            "statistic": perm.statistic,
            "pvalue": perm.pvalue,
            "pvalue_greater": greater,
            "pvalue_less": less,
            "floor": perm.floor,
            "exact": perm.exact,
            "n_permutations": perm.n_permutations,
        },
        "disjoint": ranges_disjoint(a, b),
        "paired": _paired(a, b, options),
        "mde": seeds_mde(a, b, 1 - options.confidence),
    }


def _condition(name: str, runs: list[SeedRun]) -> dict[str, Any]:
    """Per-seed values, summaries, per-domain drift and the seed-averaged loss matrix."""
    domain = (
        pd.DataFrame(
            [(d, v) for r in runs for d, v in r.domain_drift.items()], columns=["domain", "drift"]
        )
        .groupby("domain", sort=False)["drift"]
        .agg(["mean", "size"])
    )
    matrix, labels = mean_matrix(runs)
    return {
        "condition": name,
        "seeds": [{"seed": r.seed, "drift": r.drift, "holdout": r.holdout} for r in runs],
        "drift": _summary([r.drift for r in runs]),
        "holdout": _summary([r.holdout for r in runs]),
        "domains": [
            {"domain": d, "mean": float(m), "n": int(n)} for d, (m, n) in domain.iterrows()
        ],
        "matrix": {
            "domains": labels,
            "loss": [[None if np.isnan(v) else float(v) for v in row] for row in matrix],
        },
    }


def _condition_metrics(metrics: dict[str, float], cond: dict[str, Any]) -> None:
    name = cond["condition"]
    put_metrics(metrics, (PLUGIN, name, "drift"), cond["drift"])
    put_metrics(metrics, (PLUGIN, name, "holdout"), cond["holdout"])
    for seed in cond["seeds"]:
        put_metrics(
            metrics,
            (PLUGIN, name, f"seed_{seed['seed']}"),
            {"drift": seed["drift"], "holdout": seed["holdout"]},
        )
    for domain in cond["domains"]:
        put_metrics(metrics, (PLUGIN, name, domain["domain"], "drift"), {"mean": domain["mean"]})


def _pair_metrics(metrics: dict[str, float], advantages: list[dict], tests: list[dict]) -> None:
    for adv in advantages:
        label = f"{adv['a']}_over_{adv['b']}"
        put_metrics(metrics, (PLUGIN, label, "advantage"), adv["summary"])
        for seed, value in adv["seeds"]:
            put_metrics(metrics, (PLUGIN, label, f"seed_{seed}"), {"advantage": value})
    for test in tests:
        label = f"{test['a']}_vs_{test['b']}"
        put_metrics(metrics, (PLUGIN, label, "welch"), test["welch"])
        perm = test["permutation"]
        put_metrics(
            metrics,
            (PLUGIN, label, "permutation"),
            {k: perm[k] for k in ("pvalue", "pvalue_greater", "pvalue_less", "floor", "exact")},
        )
        put_metrics(metrics, (PLUGIN, label), {"disjoint": test["disjoint"], "mde": test["mde"]})
        put_metrics(metrics, (PLUGIN, label, "paired"), test["paired"])


def _permutation_method(tests: list[dict[str, Any]]) -> str:
    """Which permutation tests ran: exact, seeded Monte Carlo, or some of each."""
    kinds = {"exact" if t["permutation"]["exact"] else "monte-carlo" for t in tests}
    return (
        "permutation-"
        + ("/".join(sorted(kinds)) or "none")
        + " (two-sided; one-sided greater and less beside it)"
    )


def analyze_drift(loss: pd.DataFrame, options: AnalyzeOptions) -> AnalysisResult | None:
    """Loss-relative drift, final holdout and learning advantage per condition (docs/results.md);
    None when every record is after_phase 0 (the base model: the cl plugin's row 0)."""
    loss = loss[loss["after_phase"] >= 1]
    if loss.empty:
        return None
    runs = seed_runs(loss, (options.extra.get("drift") or {}).get("domain_order"))
    check_seeds(loss, runs)
    check_phases(runs)
    names = in_order(pd.Series([r.condition for r in runs]))
    by_cond = {
        c: sorted((r for r in runs if r.condition == c), key=lambda r: r.seed) for c in names
    }
    conditions = [_condition(c, by_cond[c]) for c in names]
    advantages, tests = [], []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for x, y in ((a, b), (b, a)):  # both directions, so names do not hang on file order
                per_seed = _advantage(by_cond[x], by_cond[y])
                summary = _summary([v for _, v in per_seed])
                advantages.append({"a": x, "b": y, "seeds": per_seed, "summary": summary})
                drift_x, drift_y = ([r.drift for r in by_cond[c]] for c in (x, y))
                tests.append({"a": x, "b": y, **_tests(drift_x, drift_y, options)})
    metrics: dict[str, float] = {}
    for cond in conditions:
        _condition_metrics(metrics, cond)
    _pair_metrics(metrics, advantages, tests)
    details = {
        "conditions": conditions,
        "advantages": advantages,
        "tests": tests,
        "confidence": options.confidence,
    }
    methods = {
        "drift": "loss-relative drift (L(T,d) - L(d,d)) / L(d,d) * 100, mean over d < T",
        "std": "sample (ddof=1)",
        "unit": "seed (one training run per condition and seed); conditions paired by seed",
        "test": "welch-t; " + _permutation_method(tests),
        "paired_test": PAIRED_TEST,
        "test_used": PAIRED_TEST if tests else "none (one condition)",
        "mde": "minimum detectable drift difference (pp) at alpha = 1 - confidence, 80% power: "
        "two-sample t on the per-seed drifts, pooled sd (statsmodels TTestIndPower); an exact "
        "permutation test whose floor is not below alpha detects none",
    }
    return AnalysisResult(metrics, details, methods, metric_info=drift_info(metrics, details))


def _nullable(matrix: np.ndarray) -> list[list[float | None]]:
    """A matrix as nested lists for results.json, NaN (not measured) as null."""
    return [[None if np.isnan(v) else float(v) for v in row] for row in matrix]
