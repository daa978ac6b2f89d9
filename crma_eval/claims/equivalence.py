"""`equivalence` claims: "no forgetting" checked by a decision mode, not by non-significance.

The quantity is mean(values) (one sample, e.g. per-seed drift) or mean(a) - mean(b) (two
samples, e.g. the advantage of MODULAR over FROZEN); larger is worse (drift, a drop). Modes:

* equivalence: TOST, both one-sided t tests at alpha (statsmodels DescrStatsW.ttost_mean /
  ttost_ind with unequal variances); supported when the (1 - 2 alpha) interval is within ±margin.
* non_inferiority: one-sided t test of H0 quantity >= margin (statsmodels ttest_mean /
  CompareMeans.ttest_ind, alternative "smaller"); supported when p < alpha.
* significant_drop: the old reading; supported unless quantity > margin and the two-sided t
  test gives p < alpha. The MDE says how large a quantity that test would have seen.
Values are numbers, or a glob over RUN_DIR's metric names (values in name order).
Essentially constant data (R's t.test rule, crma_eval.stats.essentially_constant; e.g. identical
values) make every t test undefined (a zero standard error gives p like 1e-34): the same tests
are then exact sign-flip tests on the values minus the tested value (one sample) or exact
permutation tests of a minus the tested value against b (two samples), and the detail says so.
A warning statsmodels raises is caught and its reason printed in the detail, never on the console.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

from crma_eval.stats import essentially_constant, permutation_test, sign_flip_test
from crma_eval.stats.power import one_sample_mde, pooled_sd, two_sample_mde

MODES = ("equivalence", "non_inferiority", "significant_drop")


def resolve(
    source: Sequence[float] | str, metrics: Mapping[str, Any] | None
) -> tuple[list[float] | None, str]:
    """The values of one side: the list itself, or RUN_DIR metrics matching a glob."""
    if not isinstance(source, str):
        return list(source), ""
    if metrics is None:
        return None, f"needs RUN_DIR for the metrics {source}"
    names = sorted(n for n in metrics if fnmatchcase(n, source) and metrics[n] is not None)
    if len(names) < 2:
        return None, f"fewer than 2 metrics match {source} in results.json"
    values = [float(metrics[n]) for n in names]
    bad = [f"{n} is {v}" for n, v in zip(names, values, strict=True) if not math.isfinite(v)]
    if bad:
        return None, f"undefined metric values in results.json ({', '.join(bad[:3])})"
    return values, ""


def _constant(a: list[float], b: list[float] | None) -> bool:
    """Essentially constant data: one sample constant, or both samples constant (Welch's
    standard error is then zero)."""
    return essentially_constant(a) and (b is None or essentially_constant(b))


def _exact_p(a: list[float], b: list[float] | None, value: float, side: str) -> float:
    """Exact test of quantity = value (side: two-sided, greater, less): sign-flip on a − value,
    or permutation of a − value against b."""
    x = np.asarray(a, dtype=float) - value
    if b is None:
        return float(sign_flip_test(x, alternative=side).pvalue)
    return float(permutation_test(x, b, alternative=side).pvalue)


def _exact(
    a: list[float], b: list[float] | None, mode: str, margin: float
) -> tuple[float, float, str]:
    """(estimate, p, why) with exact tests for essentially constant data (interval of zero
    width at the estimate)."""
    estimate = float(np.mean(a) - (0.0 if b is None else np.mean(b)))
    if mode == "equivalence":
        p = max(_exact_p(a, b, -margin, "greater"), _exact_p(a, b, margin, "less"))
    elif mode == "non_inferiority":
        p = _exact_p(a, b, margin, "less")
    else:
        p = _exact_p(a, b, 0.0, "two-sided")
    test = "exact sign-flip" if b is None else "exact permutation"
    why = f"data essentially constant: t tests undefined, {test} tests used instead"
    return estimate, p, why


def decide_quantity(
    a: list[float], b: list[float] | None, mode: str, margin: float, alpha: float
) -> dict[str, Any]:
    """Estimate, (1 - 2 alpha) interval, p of the mode's test, MDE, whether it supports and
    `note` (why exact tests were used, or what statsmodels warned; "" when neither)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _decide(a, b, mode, margin, alpha)
    reasons = dict.fromkeys(str(w.message).strip() for w in caught)
    if reasons and not found["note"]:
        found["note"] = "statsmodels warned: " + "; ".join(reasons)
    return found


def _decide(
    a: list[float], b: list[float] | None, mode: str, margin: float, alpha: float
) -> dict[str, Any]:
    note = ""
    if _constant(a, b):
        estimate, pvalue, note = _exact(a, b, mode, margin)
        sizes = f"{len(a)} values" if b is None else f"{len(a)} vs {len(b)} values"
        design = f"{'one' if b is None else 'two'}-sample on {sizes}"
        interval = (estimate, estimate)
        return _verdict(mode, margin, alpha, estimate, interval, pvalue, math.inf, design, note)
    one = DescrStatsW(np.asarray(a, dtype=float))
    if b is None:
        estimate = float(one.mean)
        low, high = one.tconfint_mean(alpha=2 * alpha)
        if mode == "equivalence":
            pvalue = float(one.ttost_mean(-margin, margin)[0])
        elif mode == "non_inferiority":
            pvalue = float(one.ttest_mean(margin, alternative="smaller")[1])
        else:
            pvalue = float(one.ttest_mean(0.0)[1])
        sd = float(np.std(a, ddof=1))
        mde = one_sample_mde(len(a), sd, alpha).value
        design = f"one-sample t on {len(a)} values"
    else:
        two = CompareMeans(one, DescrStatsW(np.asarray(b, dtype=float)))
        estimate = float(np.mean(a) - np.mean(b))
        low, high = two.tconfint_diff(alpha=2 * alpha, usevar="unequal")
        if mode == "equivalence":
            pvalue = float(ttost_ind(a, b, -margin, margin, usevar="unequal")[0])
        elif mode == "non_inferiority":
            res = two.ttest_ind(alternative="smaller", usevar="unequal", value=margin)
            pvalue = float(res[1])
        else:
            pvalue = float(two.ttest_ind(usevar="unequal")[1])
        mde = two_sample_mde(len(a), len(b), pooled_sd(a, b), alpha).value
        design = f"Welch t on {len(a)} vs {len(b)} values"
    return _verdict(mode, margin, alpha, estimate, (low, high), pvalue, mde, design, note)


def _verdict(
    mode: str,
    margin: float,
    alpha: float,
    estimate: float,
    interval: tuple[float, float],
    pvalue: float,
    mde: float,
    design: str,
    note: str,
) -> dict[str, Any]:
    if mode == "significant_drop":
        supported = not (estimate > margin and pvalue < alpha)
    else:
        supported = pvalue < alpha
    return {
        "estimate": estimate,
        "low": float(interval[0]),
        "high": float(interval[1]),
        "pvalue": pvalue,
        "mde": mde if math.isfinite(mde) else None,
        "supported": supported,
        "design": design,
        "note": note,
    }


def sentence(mode: str, margin: float, alpha: float, found: dict[str, Any]) -> str:
    """The verdict's detail: interval, p of the mode's test, MDE."""
    level = f"{1 - 2 * alpha:.0%}"
    mde = "none detectable" if found["mde"] is None else f"{found['mde']:.3g}"
    head = (
        f"{found['design']}: {found['estimate']:.4g}, {level} interval "
        f"[{found['low']:.4g}, {found['high']:.4g}]"
    )
    verdict = "supported" if found["supported"] else f"not supported at alpha {alpha:g}"
    if mode == "equivalence":
        what = f"TOST within ±{margin:g}: p = {found['pvalue']:.3g}"
    elif mode == "non_inferiority":
        what = f"non-inferiority (< {margin:g}): p = {found['pvalue']:.3g}"
    else:
        what = (
            f"a significant drop is an estimate above {margin:g} with two-sided p < {alpha:g} "
            f"(test of quantity = 0): p = {found['pvalue']:.3g}"
        )
        verdict = (
            "supported (no significant drop)"
            if found["supported"]
            else (f"not supported (a significant drop at alpha {alpha:g})")
        )
    note = f"; {found['note']}" if found.get("note") else ""
    return f"{head}; {what}; {verdict}; MDE {mde} (80% power){note}"
