"""Recompute each claim with the project's own statistics and give it one verdict.

Verdicts: reproduced; differs (by how much, in the printed unit); method_mismatch (a printed
interval matches another proportion method, named); rounded_summary_only (a Welch test
reproduced from the printed means and sds, not from the raw values); impossible (GRIM, Brown &
Heathers 2017: no integer count gives the printed proportion or mean for that n);
not_checkable (the metric, or the run directory, is absent: the detail says which);
not_supported (an equivalence claim whose decision mode does not establish it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from crma_eval.api.catalogue import MetricInfo, interval_label
from crma_eval.api.catalogue import method_label as catalogue_method
from crma_eval.claims.printed import Printed
from crma_eval.claims.spec import Claim
from crma_eval.stats import (
    PROPORTION_METHODS,
    group_summary,
    mcnemar,
    method_label,
    permutation_test,
    proportion_ci,
    welch_t,
)
from crma_eval.stats.proportions import RECOGNISED_ONLY_METHODS

VERDICTS: tuple[str, ...] = (
    "reproduced",
    "differs",
    "method_mismatch",
    "rounded_summary_only",
    "impossible",
    "not_checkable",
    "not_supported",
)
INTERVAL_METHODS = PROPORTION_METHODS + RECOGNISED_ONLY_METHODS


@dataclass(frozen=True)
class Outcome:
    """One claim's verdict: `printed` and `recomputed` map names to numbers in the printed unit.

    `difference` maps each name that does not match to (recomputed as printed) − printed, in the
    printed unit; `method` names the matching method of a method_mismatch (else the method used).
    """

    claim: Claim
    verdict: str
    recomputed: dict[str, Any] = field(default_factory=dict)
    difference: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def printed(self) -> dict[str, float]:
        """The claim's printed numbers by name."""
        return {name: p.value for name, p in self.claim.printed.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: id, verdict, printed, recomputed, difference, method, detail, line, ..."""
        return {
            "id": self.claim.id,
            "kind": self.claim.kind,
            "verdict": self.verdict,
            "printed": self.printed,
            "recomputed": self.recomputed,
            "difference": self.difference,
            "method": self.method,
            "detail": self.detail,
            "text": self.claim.text,
            "line": self.claim.line,
            **self.extra,
        }


@dataclass(frozen=True)
class Comparison:
    """Printed vs recomputed numbers: the signed differences and a sentence per mismatch."""

    difference: dict[str, float]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


class Undefined(ValueError):
    """A recomputed number is not finite (NaN or infinite): the claim cannot be checked."""


def _undefined(recomputed: Mapping[str, Any]) -> str | None:
    """'statistic is nan, pvalue is nan' for the non-finite numbers, else None."""
    bad = [
        f"{name} is {x}"
        for name, x in recomputed.items()
        if isinstance(x, (int, float)) and not math.isfinite(x)
    ]
    return ", ".join(bad) or None


def compare(
    printed: Mapping[str, Printed], recomputed: Mapping[str, float], relation: str = "="
) -> Comparison:
    """Compare every printed number with its recomputed value at the printed precision.

    Raises Undefined when a recomputed number the claim prints is NaN or infinite.
    """
    why = _undefined({name: recomputed[name] for name in printed})
    if why:
        raise Undefined(why)
    difference: dict[str, float] = {}
    problems: list[str] = []
    for name, p in printed.items():
        x = recomputed[name]
        if p.matches(x, relation):
            continue
        difference[name] = float(f"{p.rounded(x) - p.value:.12g}")
        if relation == "=":
            units = p.last_digits(x)
            problems.append(
                f"{name} {_g(x)} prints as {p.show(x)}, not {p.text} ({units:+d} in the last digit)"
            )
        else:
            problems.append(f"{name} {_g(x)} is not {relation} {p.text}")
    return Comparison(difference, problems)


def _g(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3e}"


def _verdict(claim: Claim, result: Comparison, recomputed: dict[str, float], **kw: Any) -> Outcome:
    verdict = "reproduced" if result.ok else "differs"
    detail = "; ".join(result.problems) or kw.pop("detail", "reproduced at the printed precision")
    return Outcome(claim, verdict, recomputed, result.difference, detail, **kw)


def _bounds_of(name: str, info: Mapping[str, MetricInfo]) -> dict[str, str]:
    """{"low": metric, "high": metric}: the interval bounds the catalogue ties to `name`."""
    return {e.bound: m for m, e in info.items() if e.of == name and e.bound is not None}


def check_metric(
    claim: Claim, metrics: Mapping[str, Any] | None, info: Mapping[str, MetricInfo] | None = None
) -> Outcome:
    """A metric of RUN_DIR/results.json (times `scale`) against the printed number; a printed
    interval against the bounds the run's metric catalogue ties to that metric, and a named
    interval method against the catalogue's (method_mismatch when they differ)."""
    name, scale = claim.inputs["metric"], claim.inputs["scale"]
    if metrics is None:
        return Outcome(claim, "not_checkable", detail=f"needs RUN_DIR for metric {name}")
    bounds = _bounds_of(name, info or {}) if "low" in claim.printed else {}
    names = {"value": name, **bounds}
    lacking = [m for key, m in names.items() if key in claim.printed and metrics.get(m) is None]
    if lacking or ("low" in claim.printed and set(bounds) != {"low", "high"}):
        own = (info or {}).get(name)
        if not lacking and own is not None and own.role == "interval_bound":
            detail = (
                f"metric {name} is an interval bound ({own.estimand}), which has no interval "
                f"of its own: claim on its estimate (metric: {own.of}) with interval: [low, high]"
            )
            return Outcome(claim, "not_checkable", detail=detail)
        what = f"metric {lacking[0]}" if lacking else f"an interval of {name}"
        return Outcome(claim, "not_checkable", detail=f"{what} is not in results.json (or null)")
    recomputed = {k: float(metrics[m]) * scale for k, m in names.items() if k in claim.printed}
    outcome = _verdict(claim, compare(claim.printed, recomputed, claim.relation), recomputed)
    if not bounds:
        return outcome
    entry = (info or {})[bounds["low"]]
    named = claim.inputs.get("method")
    if named is not None and named != entry.method:
        detail = (
            f"printed as {catalogue_method(named)}, but the run's interval is "
            f"{interval_label(entry)} ({outcome.detail})"
        )
        extra = {"named_method": named}
        return Outcome(
            claim, "method_mismatch", recomputed, outcome.difference, detail, entry.method, extra
        )
    return replace(
        outcome, method=entry.method, detail=f"{interval_label(entry)}: {outcome.detail}"
    )


GRIM_SHOWN = 5


def grim_counts(p: Printed, n: int, scale: float, upper: int | None) -> list[int]:
    """The first GRIM_SHOWN integer counts t (0 <= t <= upper when given) with t / n * scale
    printed as `p` (GRIM)."""
    low = math.floor((p.value - p.tolerance) / scale * n) - 1
    high = math.ceil((p.value + p.tolerance) / scale * n) + 1
    if upper is not None:
        low, high = max(low, 0), min(high, upper)
    found: list[int] = []
    for t in range(low, high + 1):  # stops at GRIM_SHOWN matches: linear in that, not in n
        if p.matches(t / n * scale):
            found.append(t)
            if len(found) == GRIM_SHOWN:
                break
    return found


def _grim(claim: Claim, n: int, scale: float, upper: int | None, what: str) -> Outcome:
    p = claim.printed["value"]
    counts = grim_counts(p, n, scale, upper)
    if not counts:
        nearest = round(p.value / scale * n)
        if upper is not None:
            nearest = min(max(nearest, 0), upper)
        detail = (
            f"no integer {what} of n = {n} prints as {p.text} "
            f"(nearest {nearest}/{n} = {p.show(nearest / n * scale)})"
        )
        return Outcome(claim, "impossible", {"value": nearest / n * scale}, detail=detail)
    shown = ", ".join(f"{t}/{n}" for t in counts[:5])
    recomputed = {"value": counts[0] / n * scale}
    return Outcome(claim, "reproduced", recomputed, detail=f"possible: {shown}")


def _interval(k: int, n: int, confidence: float, method: str, scale: float) -> dict[str, float]:
    low, high = proportion_ci(k, n, confidence, method)
    return {"low": low * scale, "high": high * scale}


def check_proportion(claim: Claim) -> Outcome:
    """k/n and its interval by the named method; other methods are tried to name a mismatch."""
    k, n, scale = claim.inputs["k"], claim.inputs["n"], claim.inputs["scale"]
    if k is None:
        return _grim(claim, n, scale, n, "count")
    method, confidence = claim.inputs["method"], claim.inputs["confidence"]
    recomputed: dict[str, float] = {}
    if "value" in claim.printed:
        recomputed["value"] = k / n * scale
    bounds = {name: p for name, p in claim.printed.items() if name in ("low", "high")}
    if bounds:
        recomputed.update(_interval(k, n, confidence, method, scale))
    result = compare(claim.printed, recomputed)
    label = method_label(method)
    if result.ok or not bounds or "value" in result.difference:
        return _verdict(claim, result, recomputed, method=method)
    others = [
        m
        for m in INTERVAL_METHODS
        if m != method and compare(bounds, _interval(k, n, confidence, m, scale)).ok
    ]
    if not others:
        outcome = _verdict(claim, result, recomputed, method=method)
        return replace(outcome, detail=f"{label}: {outcome.detail}")
    names = ", ".join(method_label(m) for m in others)
    first = _interval(k, n, confidence, others[0], scale)
    detail = (
        f"printed as {label}, but the interval is {names} "
        f"({method_label(others[0])} gives [{_g(first['low'])}, {_g(first['high'])}]; "
        f"{label} gives {'; '.join(result.problems)})"
    )
    extra = {"matches": others, "named_method": method}
    return Outcome(
        claim, "method_mismatch", recomputed, result.difference, detail, others[0], extra
    )


def _sample_with(mean: float, sd: float, n: int) -> np.ndarray:
    """n equally spaced values with exactly this mean and sample sd (ddof = 1).

    Welch's t depends on the data only through n, mean and variance, so welch_t on these gives
    the test from printed summaries without a second implementation of it.
    """
    z = np.arange(n, dtype=np.float64) - (n - 1) / 2
    return mean + sd * z / np.std(z, ddof=1)


def _welch_numbers(a: Any, b: Any, printed: Mapping[str, Printed]) -> dict[str, float]:
    res = welch_t(a, b)
    stat = printed.get("statistic")
    statistic = res.statistic if stat is not None and stat.value < 0 else abs(res.statistic)
    numbers = {"statistic": statistic, "df": res.df, "pvalue": res.pvalue}
    return {k: v for k, v in numbers.items() if k in printed}


def check_welch(claim: Claim) -> Outcome:
    """Welch's t from raw values and/or printed summaries (|t| unless the printed t is negative)."""
    raw, summary = claim.inputs.get("a") is not None, claim.inputs.get("summary")
    from_raw = from_summary = None
    if raw:
        from_raw = _welch_numbers(claim.inputs["a"], claim.inputs["b"], claim.printed)
    if summary is not None:
        s = summary
        a = _sample_with(s["mean_a"], s["sd_a"], s["n_a"])
        b = _sample_with(s["mean_b"], s["sd_b"], s["n_b"])
        from_summary = _welch_numbers(a, b, claim.printed)
    primary = from_raw if from_raw is not None else from_summary
    assert primary is not None  # the spec requires welch and/or summary
    result = compare(claim.printed, primary)
    extra = {} if from_summary is None or from_raw is None else {"from_summary": from_summary}
    if result.ok or from_raw is None or from_summary is None:
        return _verdict(claim, result, primary, method="welch", extra=extra)
    if not compare(claim.printed, from_summary).ok:
        return _verdict(claim, result, primary, method="welch", extra=extra)
    detail = f"from the printed summaries only; from the values: {'; '.join(result.problems)}"
    return Outcome(
        claim, "rounded_summary_only", primary, result.difference, detail, "welch", extra
    )


def check_values(claim: Claim) -> Outcome:
    """Mean, sample sd (ddof = 1), min and max of the listed values (group_summary)."""
    s = group_summary(claim.inputs["values"])
    numbers = {"mean": s.mean, "sd": s.std, "min": s.min, "max": s.max}
    recomputed = {k: v for k, v in numbers.items() if k in claim.printed}
    return _verdict(claim, compare(claim.printed, recomputed), recomputed)


def check_mcnemar(claim: Claim) -> Outcome:
    """McNemar's test on the discordant counts b and c (stats.mcnemar, exact by default)."""
    res = mcnemar(claim.inputs["b"], claim.inputs["c"], claim.inputs["method"])
    numbers = {"statistic": res.statistic, "pvalue": res.pvalue}
    recomputed = {k: v for k, v in numbers.items() if k in claim.printed}
    result = compare(claim.printed, recomputed, claim.relation)
    return _verdict(claim, result, recomputed, method=f"mcnemar_{res.method}")


def check_permutation(claim: Claim) -> Outcome:
    """Exact (or seeded Monte Carlo) permutation test of mean(a) − mean(b), with its floor."""
    res = permutation_test(claim.inputs["a"], claim.inputs["b"], claim.inputs["alternative"])
    numbers = {"statistic": res.statistic, "pvalue": res.pvalue, "floor": res.floor}
    recomputed = {k: v for k, v in numbers.items() if k in claim.printed}
    result = compare(claim.printed, recomputed, claim.relation)
    method = "permutation_exact" if res.exact else "permutation_monte_carlo"
    return _verdict(claim, result, recomputed, method=method)


def check_claim(
    claim: Claim, metrics: Mapping[str, Any] | None, info: Mapping[str, MetricInfo] | None = None
) -> Outcome:
    """The verdict on one claim; `metrics` is results.json's metrics, or None without RUN_DIR;
    `info` its metric catalogue (crma_eval.api.catalogue).

    A recomputed number that is NaN or infinite (a metric stored as NaN, Welch's t on constant
    samples) gives not_checkable saying which number is undefined.
    """
    try:
        return _check(claim, metrics, info)
    except Undefined as exc:
        detail = (
            f"recomputed value undefined ({exc}): the printed number cannot be checked "
            "(e.g. a test on constant samples, or a metric stored as NaN)"
        )
        return Outcome(claim, "not_checkable", detail=detail)


def _check(
    claim: Claim, metrics: Mapping[str, Any] | None, info: Mapping[str, MetricInfo] | None
) -> Outcome:
    if claim.kind == "metric":
        return check_metric(claim, metrics, info)
    if claim.kind == "mean":
        return _grim(claim, claim.inputs["n"], 1.0, None, "total")
    if claim.kind == "equivalence":
        return check_equivalence(claim, metrics)
    checks = {
        "proportion": check_proportion,
        "welch": check_welch,
        "values": check_values,
        "mcnemar": check_mcnemar,
        "permutation": check_permutation,
    }
    return checks[claim.kind](claim)


def check_equivalence(claim: Claim, metrics: Mapping[str, Any] | None) -> Outcome:
    """An equivalence claim by its mode (crma_eval.claims.equivalence); printed: the estimate."""
    from crma_eval.claims import equivalence as eq

    sides = [claim.inputs[k] for k in ("values", "a", "b") if k in claim.inputs]
    resolved = [eq.resolve(side, metrics) for side in sides]
    why = next((w for _, w in resolved if w), "")
    if why:
        return Outcome(claim, "not_checkable", detail=why)
    values = [v for v, _ in resolved if v is not None]
    mode, margin, alpha = claim.inputs["mode"], claim.inputs["margin"], claim.inputs["alpha"]
    found = eq.decide_quantity(
        values[0], values[1] if len(values) > 1 else None, mode, margin, alpha
    )
    recomputed = {
        k: found[k] for k in ("estimate", "low", "high", "pvalue", "mde") if found[k] is not None
    }
    extra = {"mode": mode, "margin": margin, "supported": found["supported"]}
    detail = eq.sentence(mode, margin, alpha, found)
    if "value" in claim.printed:
        result = compare(claim.printed, {"value": found["estimate"]})
        if not result.ok:
            return Outcome(claim, "differs", recomputed, result.difference, detail, mode, extra)
    verdict = "reproduced" if found["supported"] else "not_supported"
    return Outcome(claim, verdict, recomputed, {}, detail, mode, extra)
