"""The metric catalogue: what every number of results.json `metrics` is.

Each metric gets one `MetricInfo` in results.json `meta.metric_info` (name -> entry): its role
(an estimate, an interval bound, a count, a test statistic, a p-value, ...), the estimand in plain
words, the unit of analysis and the number of those units, the method that produced it, the scale
it is printed on, its direction (is a higher or a lower value better), and — for bounds, counts
and test results — the estimate it belongs to.
Consumers (report labels, `gate`, `compare`, `claims`, exports) read these entries instead of
guessing from names. A plugin declares its entries in `AnalysisResult.metric_info`; a metric a
plugin did not describe gets a conservative `fallback_entry` (marked `fallback: true`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Role = Literal[
    "estimate",
    "interval_bound",
    "count",
    "dispersion",
    "extreme",
    "statistic",
    "pvalue",
    "adjusted_pvalue",
    "pvalue_floor",
    "df",
    "design",
    "flag",
    "unknown",
]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
# Which way is better: "higher" (accuracy, F1, AUROC, BWT), "lower" (perplexity, loss, drift,
# forgetting, ECE, error rates); None: not applicable (counts, p-values) or not known.
DIRECTIONS = ("higher", "lower")
ROLE_LABELS = {
    "estimate": "estimate",
    "interval_bound": "interval bound",
    "count": "count",
    "dispersion": "dispersion (std)",
    "extreme": "extreme (min/max)",
    "statistic": "test statistic",
    "pvalue": "p-value",
    "adjusted_pvalue": "adjusted p-value",
    "pvalue_floor": "smallest attainable p-value",
    "df": "degrees of freedom",
    "design": "design quantity",
    "flag": "flag (1 = yes, 0 = no)",
    "unknown": "unknown",
}
# The documented scales (results.json `meta.metric_info.<name>.scale`) and what each means;
# docs/results.md lists the same set. A difference of two proportions is in percentage points,
# never in "percent" (which is a level or a relative change).
SCALES: dict[str, str] = {
    "fraction": "a proportion in [0, 1] (or a difference of two, unscaled)",
    "percent": "a proportion in [0, 100], or a relative change × 100",
    "percentage points": "a difference of two proportions or percentages (pp)",
    "points": "a 0–100 score that is no proportion (BLEU, chrF, ROUGE), or a difference of two",
    "ratio": "a ratio of two quantities (perplexity ratio, design effect)",
    "nats per token": "a mean negative log-likelihood per token (or a difference of two)",
    "bits per byte": "a bits-per-byte level",
    "bits": "a difference of two bits-per-byte levels",
    "perplexity": "a corpus perplexity",
    "metric units": "a metric of unknown scale, in its own units",
    "score": "a classifier score (a router confidence threshold)",
    "absolute deviation": "an absolute deviation from a target value",
    "count": "a number of units",
}
# Printed names of interval methods (crma_eval.stats method ids and the plugins' own).
METHOD_LABELS = {
    "wilson": "Wilson score",
    "clopper_pearson": "Clopper–Pearson exact",
    "jeffreys": "Jeffreys",
    "agresti_coull": "Agresti–Coull",
    "wald": "Wald",
    "clustered-cr1": "item-clustered CR1",
}


@dataclass(frozen=True)
class MetricInfo:
    """What one metric is (one entry of results.json `meta.metric_info`).

    role: one of ROLES. estimand: what it estimates or counts, in plain words. unit: the unit of
    analysis (item, answer, query, seed, document, step, ...); n: how many of those units it
    rests on (None when not one number). method: how it was computed (e.g. "wilson",
    "clustered-cr1", "mcnemar-exact", "welch"). scale: the unit of measure, one of SCALES
    (fraction, percent, percentage points, ratio, nats per token, count, ...). of: the metric
    name of the estimate a bound, count, statistic or p-value belongs to. bound: "low"/"high"
    for interval bounds. confidence: an interval's level (0.95). direction: "higher" or "lower"
    (which value is better; estimates and their bounds), None when not applicable or unknown.
    fallback: True when the plugin declared no entry and this one was guessed.
    """

    role: str
    estimand: str
    unit: str | None = None
    n: int | None = None
    method: str | None = None
    scale: str | None = None
    of: str | None = None
    bound: str | None = None
    confidence: float | None = None
    fallback: bool = False
    direction: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown metric role {self.role!r} (one of {', '.join(ROLES)})")
        if self.bound not in (None, "low", "high"):
            raise ValueError(f"bound must be 'low' or 'high', got {self.bound!r}")
        if self.direction not in (None, *DIRECTIONS):
            raise ValueError(f"direction must be 'higher' or 'lower', got {self.direction!r}")

    def to_json(self) -> dict[str, Any]:
        """The entry as stored in results.json (keys with None left out; `fallback` only if set)."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        if not self.fallback:
            data.pop("fallback")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricInfo:
        """Read an entry back (unknown keys are ignored; ValueError on a bad role or a value that
        is not a mapping)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a catalogue entry must be a mapping, got {type(data).__name__}")
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

    @property
    def is_estimate(self) -> bool:
        """True for point estimates, the only metrics paired tests and deltas are about."""
        return self.role == "estimate"

    @property
    def known_direction(self) -> str | None:
        """The declared direction ("higher"/"lower"), None for a guessed (fallback) entry."""
        return None if self.fallback else self.direction


def direction_words(direction: str | None) -> str:
    """'higher is better' / 'lower is better' / 'direction unknown'."""
    return f"{direction} is better" if direction in DIRECTIONS else "direction unknown"


def method_label(method: str | None) -> str:
    """Printed name of a method id ('clustered-cr1' -> 'item-clustered CR1'); unknown ids as is."""
    if not method:
        return "method not stated"
    return METHOD_LABELS.get(method, method)


def plural(unit: str) -> str:
    """The English plural of a unit noun: 'query' -> 'queries' (-y after a consonant), 'item' ->
    'items'; a noun already ending in s ('items', 'nats per token') is kept."""
    if unit.endswith("s"):
        return unit
    if unit.endswith("y") and len(unit) > 1 and unit[-2].lower() not in "aeiou":
        return unit[:-1] + "ies"
    if unit.endswith(("x", "z", "ch", "sh")):
        return unit + "es"
    return unit + "s"


def units(n: int | None, unit: str | None) -> str:
    """'n = 60 items', 'n = 100 queries' (see `plural`), '' when n or the unit is unknown."""
    if n is None or not unit:
        return ""
    return f"n = {n} {unit if n == 1 else plural(unit)}"


def interval_label(info: MetricInfo | None) -> str:
    """How an interval is printed beside its numbers, e.g. 'Wilson score 95% CI, n = 100 items'."""
    if info is None:
        return "interval (method not stated)"
    level = "" if info.confidence is None else f" {100 * info.confidence:g}%"
    size = units(info.n, info.unit)
    return f"{method_label(info.method)}{level} CI" + (f", {size}" if size else "")


def interval_labels(infos: Iterable[MetricInfo]) -> str:
    """The distinct interval methods of several intervals with their range of n, e.g.
    'item-clustered CR1 95% CI (n = 6–30 items); Wilson score 95% CI (n = 20 items)'."""
    groups: dict[str, list[MetricInfo]] = {}
    for info in infos:
        bare = MetricInfo(info.role, "", method=info.method, confidence=info.confidence)
        groups.setdefault(interval_label(bare), []).append(info)
    parts = []
    for label, group in groups.items():
        ns = sorted({i.n for i in group if i.n is not None})
        unit = next((i.unit for i in group if i.unit), "unit")
        span = "" if not ns else f"{ns[0]}" + ("" if len(ns) == 1 else f"–{ns[-1]}")
        parts.append(label + (f" (n = {span} {plural(unit)})" if span else ""))
    return "; ".join(parts) or "interval (method not stated)"


def describe_label(info: MetricInfo) -> str:
    """One line for tables and summaries: role, method and n, e.g. 'p-value (mcnemar-exact)'."""
    parts = [p for p in (info.method, units(info.n, info.unit)) if p]
    text = ROLE_LABELS.get(info.role, info.role)
    text += f" ({'; '.join(parts)})" if parts else ""
    return text + (" [guessed]" if info.fallback else "")


# The role each common stat name has, for `describe` and for the fallback of undeclared metrics.
_STAT_ROLES: dict[str, str] = {
    "k": "count",
    "n": "count",
    "b": "count",
    "c": "count",
    "n_items": "count",
    "n_observations": "count",
    "n_over_tol": "count",
    "abstained": "count",
    "misrouted": "count",
    "routed": "count",
    "std": "dispersion",
    "sd": "dispersion",
    "min": "extreme",
    "max": "extreme",
    "statistic": "statistic",
    "pvalue": "pvalue",
    "pvalue_greater": "pvalue",
    "pvalue_less": "pvalue",
    "pvalue_holm": "adjusted_pvalue",
    "pvalue_bh": "adjusted_pvalue",
    "floor": "pvalue_floor",
    "df": "df",
    "design_effect": "design",
    "n_effective": "design",
    "mde": "design",
    "mde_pp": "design",
    "disjoint": "flag",
    "exact": "flag",
}
_COUNT_WORDS = {
    "k": "number correct",
    "n": "number of observations",
    "b": "discordant pairs, right under the first only",
    "c": "discordant pairs, right under the second only",
    "n_items": "distinct items",
    "n_observations": "answers (observations)",
    "n_over_tol": "logged values outside the tolerance",
    "abstained": "abstentions",
    "misrouted": "misrouted answers",
    "routed": "routed answers",
    "design_effect": "design effect (CR1 variance over the binomial variance)",
    "n_effective": "effective number of answers (answers / design effect)",
    "mde": "minimum detectable difference (80% power, two-sided alpha = 1 - confidence)",
    "mde_pp": "minimum detectable difference in pp (80% power, two-sided alpha = 1 - confidence)",
}
# The scale of design quantities that are not counts (an MDE has its estimate's scale).
_DESIGN_SCALES = {"design_effect": "ratio", "mde_pp": "percentage points"}


def stat_role(stat: str) -> tuple[str, str | None, str | None]:
    """(role, bound, the estimate's stat name or None) of one stat name, from its spelling:
    `ci_low`, `<x>_ci_high` are bounds (of `x` when named), `pvalue_holm` an adjusted p-value,
    `k`/`n`/`b`/`c` counts, ...; anything else is taken as an estimate."""
    for side in ("low", "high"):
        if stat == f"ci_{side}":
            return "interval_bound", side, None
        if stat.endswith(f"_ci_{side}"):
            return "interval_bound", side, stat[: -len(f"_ci_{side}")]
        if stat.endswith(f"_ci_{side}_pp"):
            return "interval_bound", side, stat[: -len(f"_ci_{side}_pp")] + "_pp"
    if stat in _STAT_ROLES:
        return _STAT_ROLES[stat], None, None
    return "estimate", None, None


def describe(
    metrics: Iterable[str],
    prefix: str,
    estimate: str | None,
    estimand: str,
    *,
    unit: str | None = None,
    n: int | None = None,
    method: str | None = None,
    interval: str | None = None,
    test: str | None = None,
    scale: str | None = "fraction",
    confidence: float | None = None,
    direction: str | None = None,
) -> dict[str, MetricInfo]:
    """Entries for the metrics `<prefix>.<stat>` (stat without dots) among `metrics`.

    estimate: the stat that is the point estimate (e.g. "accuracy"); the others are tied to it
    (`of`), by their role from `stat_role`: bounds get `interval` as method and `confidence`,
    statistics/p-values get `test`, counts the scale "count". The estimate's method is `method`.
    Pass the group's names (e.g. what `put_metrics` returned) where there are many groups.
    direction ("higher"/"lower"/None): which way is better, given to the estimates and bounds.
    """
    head = f"{prefix}."
    target = f"{prefix}.{estimate}" if estimate else None
    out: dict[str, MetricInfo] = {}
    for name in metrics:
        if not name.startswith(head) or "." in name[len(head) :]:
            continue
        stat = name[len(head) :]
        role, bound, own = stat_role(stat)
        of = f"{prefix}.{own}" if own else target
        common: dict[str, Any] = {"unit": unit, "n": n}
        if name == target or (role == "estimate" and own is None and stat != estimate):
            words = estimand if name == target else f"{stat.replace('_', ' ')} of {estimand}"
            out[name] = MetricInfo(
                "estimate", words, method=method, scale=scale, direction=direction, **common
            )
        elif role == "interval_bound":
            words = f"{'lower' if bound == 'low' else 'upper'} bound of {estimand}"
            out[name] = MetricInfo(
                role, words, method=interval, scale=scale, of=of, bound=bound,
                confidence=confidence, direction=direction, **common,
            )  # fmt: skip
        elif role in ("statistic", "pvalue", "adjusted_pvalue", "pvalue_floor", "df", "flag"):
            words = f"{ROLE_LABELS[role]} of the test of {estimand}"
            out[name] = MetricInfo(role, words, method=test, of=target, **common)
        elif role == "count" or role == "design":
            words = f"{_COUNT_WORDS.get(stat, stat)} ({estimand})"
            measure = _DESIGN_SCALES.get(stat, scale if stat == "mde" else "count")
            out[name] = MetricInfo(role, words, scale=measure, of=target, **common)
        else:
            words = f"{_COUNT_WORDS.get(stat, ROLE_LABELS[role])} of {estimand}"
            out[name] = MetricInfo(role, words, scale=scale, of=target, **common)
    return out


def describe_family(
    metrics: Iterable[str], prefix: str, stat: str, estimand: str, **kw: Any
) -> dict[str, MetricInfo]:
    """`describe` of one estimate `<prefix>.<stat>` and its bounds `<prefix>.<stat>_ci_low|high`
    only (for groups holding several estimates with their own intervals)."""
    own = {f"{prefix}.{stat}", f"{prefix}.{stat}_ci_low", f"{prefix}.{stat}_ci_high"}
    return describe([m for m in metrics if m in own], prefix, stat, estimand, **kw)


def fallback_entry(name: str) -> MetricInfo:
    """The conservative entry of a metric no plugin described: role from the stat's spelling
    (the last name segment), `unknown` for anything that is not clearly an estimate, never a
    method or n; marked `fallback`."""
    stat = name.rsplit(".", 1)[-1]
    role, bound, _ = stat_role(stat)
    if role == "estimate" and stat not in _ESTIMATE_WORDS:
        role = "unknown"
    return MetricInfo(role, f"{stat} (not described by its plugin)", bound=bound, fallback=True)


# Stat names read as estimates when a third-party plugin did not describe them.
_ESTIMATE_WORDS = frozenset(
    {"accuracy", "score", "mean", "diff", "delta", "rate", "auroc", "aupr", "f1", "macro_f1"}
)


def complete(metrics: Iterable[str], declared: Mapping[str, MetricInfo]) -> dict[str, MetricInfo]:
    """Every metric's entry: the declared one, else `fallback_entry` (entries for metrics that
    do not exist are dropped)."""
    return {m: declared.get(m) or fallback_entry(m) for m in metrics}


def catalogue(results: Mapping[str, Any]) -> dict[str, MetricInfo]:
    """The catalogue of a results.json document: `meta.metric_info` read back, with fallback
    entries for metrics it lacks (results written before the catalogue existed)."""
    stored = (results.get("meta") or {}).get("metric_info") or {}
    declared: dict[str, MetricInfo] = {}
    for name, data in stored.items() if isinstance(stored, Mapping) else ():
        try:
            declared[name] = MetricInfo.from_json(data)
        except (TypeError, ValueError):
            continue  # an unreadable entry is as good as none: the fallback takes its place
    return complete(results.get("metrics") or {}, declared)
