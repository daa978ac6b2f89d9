"""Sample-size planning (`crma-eval plan`): items, repeats and seeds to detect a drop.

From a pilot run's results.json, per metric:

* `qa.<...>.accuracy` (a future run compared with this one on the same items, McNemar or
  item-level sign flips): the discordance between the two runs is unknown from one run, so the
  conservative 2 p (1 - p) of independent errors is assumed unless `--discordance` is given; the
  ICC comes from the measured design effect with m answers per item, ICC = (deff - 1) / (m - 1).
* `ablation.<a>_vs_<b>[...]` (n, b, c measured): the observed discordance (b + c) / n and, for
  repeated items, the measured design effect of the difference.
* `bench.<task>.<arm>.score` with per-item 0/1 records (the pilot's records say so) and
  `bench.<task>.<a>_vs_<b>` (b, c measured): as qa accuracy and ablation pairs, on documents.
* `drift.<a>_vs_<b>` (one plan per pair of conditions): where the conditions share seeds, the
  drift plugin's paired-by-seed t test: seeds for a drift difference `drift_diff` (pp) at the sd
  of the per-seed differences (one-sample t power, statsmodels TTestPower), with the exact
  sign-flip floor 2 / 2^n beside it; otherwise (Welch / permutation) seeds per condition with the
  pooled per-seed sd, at least the smallest number whose exact permutation floor is below alpha.
Stated rates (no pilot) plan one design from `accuracy` / `discordance`, `icc`, `repeats`, `sd`.
Methods: crma_eval.stats.power (Connor 1987 for paired binary; statsmodels t power for seeds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crma_eval.gate.globs import segment_match
from crma_eval.stats import essentially_constant
from crma_eval.stats.power import (
    clustered_items_n,
    design_effect,
    icc_from_design_effect,
    one_sample_mde,
    one_sample_n,
    paired_binary_mde,
    permutation_floor,
    two_sample_mde,
    two_sample_n,
)

REPEATS = (1, 2, 3, 5, 10)
_PAIR = re.compile(r"^drift\.(?P<a>[^.]+)_vs_(?P<b>[^.]+)\.mde$")
_BENCH_SCORE = re.compile(r"^bench\.[^.]+\.[^.]+\.score$")
_BENCH_PAIR = re.compile(r"^bench\.(?P<task>[^.]+)\.(?P<a>[^.]+)_vs_[^.]+\.b$")


@dataclass(frozen=True)
class Targets:
    """What to detect: `drop` (accuracy, fraction), `drift_diff` (pp), at alpha and power."""

    drop: float = 0.05
    drift_diff: float = 1.0
    alpha: float = 0.05
    power: float = 0.8


@dataclass
class Plan:
    """One metric's plan: design, the rates assumed, now (n, mde) and what is needed."""

    metric: str
    design: str
    assumptions: dict[str, Any]
    now: dict[str, Any]
    needed: dict[str, Any]
    by_repeats: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "design": self.design,
            "assumptions": self.assumptions,
            "now": self.now,
            "needed": self.needed,
            "by_repeats": self.by_repeats,
            "note": self.note,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


NO_ICC = "assumed 0: no --icc given"


def used_discordance(discordance: float, t: Targets, source: str) -> tuple[float, str]:
    """The ψ Connor's formula uses, min(1, max(discordance, drop)) (stats.power.paired_binary_n:
    a difference of `drop` needs at least that share of discordant items), and its source
    saying when it was raised to the drop."""
    psi = min(1.0, max(discordance, t.drop))
    if psi > discordance:
        source = f"{source}; {discordance:.3g} raised to the drop {t.drop:g} (ψ ≥ |difference|)"
    return psi, source


def binary_plan(
    metric: str,
    discordance: float,
    icc: float,
    repeats: float,
    n_items: int | None,
    t: Targets,
    assumed: str,
    icc_source: str = NO_ICC,
) -> Plan:
    """Items needed for a paired 0/1 comparison (answers per item `repeats`, this ICC); the
    discordance shown is the ψ used (`used_discordance`)."""
    discordance, assumed = used_discordance(discordance, t, assumed)
    m = max(1, round(repeats))
    deff = design_effect(icc, m)
    needed = clustered_items_n(t.drop, discordance, icc, m, t.alpha, t.power)
    now: dict[str, Any] = {}
    if n_items is not None:
        now = {"items": n_items, "repeats": m, "design_effect": deff}
        effective = max(1, math.floor(n_items * m / deff))
        now["mde"] = _finite(paired_binary_mde(effective, discordance, t.alpha, t.power).value)
    by_repeats = {
        str(r): clustered_items_n(t.drop, discordance, icc, r, t.alpha, t.power)
        for r in sorted({*REPEATS, m})
    }
    floor = clustered_items_n(t.drop, discordance, icc, 10**6, t.alpha, t.power)
    note = "repeats = seeds x repeats per seed (answers per item per run)"
    if icc > 0:
        note = f"more repeats cannot bring the items below {floor} (ICC {icc:.3g}); {note}"
    return Plan(
        metric,
        "paired binary (McNemar / item-level sign flips), Connor 1987 with design effect",
        {
            "discordance": discordance,
            "discordance_source": assumed,
            "icc": icc,
            "icc_source": icc_source,
        },
        now,
        {"items": needed, "repeats": m},
        by_repeats,
        note,
    )


def seeds_plan(metric: str, sd: float, seeds: tuple[int, int] | None, t: Targets) -> Plan:
    """Seeds per condition for a drift difference `drift_diff` (pp) at the pooled sd.

    seeds: the pilot's seeds per condition (None for stated rates)."""
    by_t = two_sample_n(t.drift_diff, sd, t.alpha, t.power)
    by_floor = next(n for n in range(2, 50) if permutation_floor(n, n) < t.alpha)
    now: dict[str, Any] = {}
    if seeds is not None:
        n_a, n_b = seeds
        now = {
            "seeds": f"{n_a} vs {n_b}",
            "mde": _finite(two_sample_mde(n_a, n_b, sd, t.alpha, t.power).value),
            "permutation_floor": permutation_floor(n_a, n_b),
        }
    source = "stated" if seeds is None else "pooled per-seed drift sd of the pilot"
    note = (
        f"two-sample t needs {by_t} seeds per condition; the exact permutation test reaches "
        f"p < {t.alpha:g} only from {by_floor} seeds per condition"
    )
    return Plan(
        metric,
        "seeds (two-sample t, pooled sd, statsmodels TTestIndPower; exact permutation floor)",
        {"sd": sd, "sd_source": source},
        now,
        {"seeds": max(by_t, by_floor)},
        note=note,
    )


def sign_flip_floor(n: int) -> float:
    """Smallest two-sided p of the exact sign-flip test on n paired differences: 2 / 2^n."""
    return min(1.0, 2.0 / 2**n)


def paired_seeds_plan(metric: str, differences: list[float], t: Targets) -> Plan:
    """Seeds (shared by both conditions) for a drift difference `drift_diff` (pp) with the paired
    t test on per-seed differences (the drift plugin's paired-by-seed test; one-sample t power,
    statsmodels TTestPower, at the differences' sd, ddof = 1). Essentially constant differences
    leave the t undefined: the exact sign-flip floor alone sets the seeds."""
    n = len(differences)
    by_flip = next(k for k in range(1, 64) if sign_flip_floor(k) < t.alpha)
    sd = float(np.std(differences, ddof=1))
    now: dict[str, Any] = {"seeds": n, "sign_flip_floor": sign_flip_floor(n)}
    if essentially_constant(differences) or sd <= 0:
        now["mde"] = None
        needed = {"seeds": by_flip}
        note = "per-seed differences essentially constant: paired t undefined, sign-flip floor"
    else:
        now["mde"] = _finite(one_sample_mde(n, sd, t.alpha, t.power).value)
        needed = {"seeds": one_sample_n(t.drift_diff, sd, t.alpha, t.power)}
        note = f"paired t needs {needed['seeds']} seeds shared by both conditions"
    note += f"; the exact sign-flip test reaches p < {t.alpha:g} only from {by_flip} seeds"
    return Plan(
        metric,
        "seeds paired by seed (paired t on per-seed differences, statsmodels TTestPower; "
        "exact sign-flip floor)",
        {"sd": sd, "sd_source": f"sd of the pilot's {n} per-seed drift differences"},
        now,
        needed,
        note=note,
    )


def _icc(deff: float | None, m: float, stated: float | None) -> tuple[float, str]:
    """The ICC from a measured design effect, or the stated one (0 when none was given) with
    one answer per item."""
    if m <= 1:
        if stated is None:
            return 0.0, f"{NO_ICC} (one answer per item measures none)"
        return stated, "stated (--icc): one answer per item measures none"
    return icc_from_design_effect(deff or 1.0, m), "measured: (design effect - 1) / (m - 1)"


def _boundary(rate: float, n: int, what: str) -> tuple[float, str]:
    """A pilot rate of 0 or 1 measures no spread: the rule-of-three 95% upper bound 3 / n of
    the rate observed as 0 (of 1 − rate observed as 0) is used instead (conservative)."""
    if 0.0 < rate < 1.0 or n <= 0:
        return rate, ""
    bound = min(0.5, 3 / n)
    used = bound if rate == 0.0 else 1.0 - bound
    note = f"pilot {what} {rate:g} is at a boundary: rule-of-three bound {used:.3g} used"
    return used, f"{note} (conservative)"


def _assumed_psi(p: float, n: int) -> tuple[float, str]:
    """2 p (1 - p) of independent errors at the pilot accuracy (a boundary accuracy replaced by
    its rule-of-three bound, `_boundary`)."""
    used, note = _boundary(p, n, "accuracy")
    source = "assumed 2p(1-p): independent errors"
    return 2 * used * (1 - used), f"{source}; {note}" if note else source


def _accuracy_plans(
    metrics: dict[str, Any], t: Targets, discordance: float | None, stated_icc: float | None
) -> list[Plan]:
    plans = []
    for name, p in metrics.items():
        if not name.startswith("qa.") or not name.endswith(".accuracy") or p is None:
            continue
        base = name[: -len(".accuracy")]
        n_obs = metrics.get(f"{base}.n_observations") or metrics.get(f"{base}.n")
        n_items = metrics.get(f"{base}.n_items") or metrics.get(f"{base}.n")
        if not n_obs or not n_items:
            continue
        m = n_obs / n_items
        icc, icc_source = _icc(metrics.get(f"{base}.design_effect"), m, stated_icc)
        psi, source = (
            (discordance, "stated")
            if discordance is not None
            else _assumed_psi(float(p), int(n_obs))
        )
        plans.append(binary_plan(name, psi, icc, m, int(n_items), t, source, icc_source))
    return plans


def _ablation_plans(metrics: dict[str, Any], t: Targets, stated_icc: float | None) -> list[Plan]:
    plans = []
    for name in metrics:
        if not (name.startswith("ablation.") and name.endswith(".b")):
            continue
        base = name[:-2]
        n, b, c = (metrics.get(f"{base}.{k}") for k in ("n", "b", "c"))
        if not n or b is None or c is None:
            continue
        n_items = metrics.get(f"{base}.n_items") or n
        m = n / n_items
        # Repeated items: b, c count items, so (b + c) / items is the share of items with any
        # discordance, at least the per-answer discordance (conservative).
        psi, note = (b + c) / n_items, ""
        if psi == 0:  # no discordant item: rule of three; ψ = 1 is already the most conservative
            psi, note = _boundary(psi, int(n_items), "discordance")
        icc, icc_source = _icc(metrics.get(f"{base}.design_effect"), m, stated_icc)
        source = "observed (b + c) / items" + (f"; {note}" if note else "")
        plans.append(binary_plan(base, psi, icc, m, int(n_items), t, source, icc_source))
    return plans


def _bench_plans(
    metrics: dict[str, Any],
    t: Targets,
    discordance: float | None,
    stated_icc: float | None,
    binary: Callable[[str], bool],
) -> list[Plan]:
    """Bench 0/1 scores (documents answered once; `binary`: the pilot's records are 0/1) as qa
    accuracy, and bench pairs with b and c measured as ablation pairs."""
    plans = []
    icc, icc_source = _icc(None, 1, stated_icc)
    for name, p in metrics.items():
        n = metrics.get(f"{name[: -len('.score')]}.n")
        if _BENCH_SCORE.match(name) and p is not None and n and binary(name):
            psi, source = (
                (discordance, "stated") if discordance is not None else _assumed_psi(p, int(n))
            )
            plans.append(binary_plan(name, psi, icc, 1, int(n), t, source, icc_source))
        match = _BENCH_PAIR.match(name)
        n = match and metrics.get(f"bench.{match['task']}.{match['a']}.n")
        if match is None or not n or p is None:
            continue
        base = name[: -len(".b")]
        c = metrics.get(f"{base}.c")
        if c is None:
            continue
        psi, note = (p + c) / n, ""
        if psi == 0:
            psi, note = _boundary(psi, int(n), "discordance")
        source = "observed (b + c) / documents" + (f"; {note}" if note else "")
        plans.append(binary_plan(base, psi, icc, 1, int(n), t, source, icc_source))
    return plans


def _seed_values(metrics: dict[str, Any], cond: str) -> dict[str, float]:
    """{seed label: drift (pp)} of one condition, from `drift.<cond>.seed_<s>.drift`."""
    seed = re.compile(rf"^drift\.{re.escape(cond)}\.(seed_[^.]+)\.drift$")
    found = ((seed.match(k), v) for k, v in metrics.items())
    return {m[1]: float(v) for m, v in found if m is not None and v is not None}


def _paired_drift(metrics: dict[str, Any], a: str, b: str, t: Targets) -> Plan | None:
    """The paired-by-seed plan where the pilot ran the paired test (`.paired.n`), else None."""
    if not metrics.get(f"drift.{a}_vs_{b}.paired.n"):
        return None
    seeds_a, seeds_b = _seed_values(metrics, a), _seed_values(metrics, b)
    shared = sorted(seeds_a.keys() & seeds_b.keys())
    if len(shared) < 2:
        return None
    return paired_seeds_plan(f"drift.{a}_vs_{b}", [seeds_a[s] - seeds_b[s] for s in shared], t)


def _drift_plans(metrics: dict[str, Any], t: Targets) -> list[Plan]:
    plans = []
    planned: set[frozenset[str]] = set()
    for name in metrics:
        match = _PAIR.match(name)
        if match is None or frozenset((match["a"], match["b"])) in planned:
            continue
        planned.add(frozenset((match["a"], match["b"])))
        paired = _paired_drift(metrics, match["a"], match["b"], t)
        if paired is not None:
            plans.append(paired)
            continue
        stats = []
        for cond in (match["a"], match["b"]):
            sd, n = metrics.get(f"drift.{cond}.drift.std"), metrics.get(f"drift.{cond}.drift.n")
            if sd is None or not n:
                break
            stats.append((float(sd), int(n)))
        if len(stats) != 2 or min(n for _, n in stats) < 2:
            continue
        (sd_a, n_a), (sd_b, n_b) = stats
        pooled = math.sqrt(((n_a - 1) * sd_a**2 + (n_b - 1) * sd_b**2) / (n_a + n_b - 2))
        if pooled > 0:
            plans.append(seeds_plan(name[: -len(".mde")], pooled, (n_a, n_b), t))
    return plans


def plan_from_metrics(
    metrics: dict[str, Any],
    t: Targets,
    patterns: tuple[str, ...] = (),
    discordance: float | None = None,
    icc: float | None = None,
    binary: Callable[[str], bool] = lambda _: False,
) -> list[Plan]:
    """Plans for every plannable metric of a pilot's results (filtered by the gate's
    globs, crma_eval.gate.globs: `*` within one dotted segment, `**` across).

    `icc` is used only where the pilot answers each item once (nothing to measure it from);
    `binary(metric)`: the pilot's per-item records of a bench score are 0/1."""
    plans = [
        *_accuracy_plans(metrics, t, discordance, icc),
        *_ablation_plans(metrics, t, icc),
        *_bench_plans(metrics, t, discordance, icc, binary),
        *_drift_plans(metrics, t),
    ]
    if patterns:
        plans = [p for p in plans if any(segment_match(p.metric, g) for g in patterns)]
    return plans


def plan_stated(
    t: Targets,
    accuracy: float | None,
    discordance: float | None,
    icc: float | None,
    repeats: int,
    sd: float | None,
) -> list[Plan]:
    """Plans from stated rates: a paired 0/1 design and/or (with `sd`) a seeds design; `icc`
    None: 0, said so."""
    plans = []
    if discordance is not None or accuracy is not None:
        if discordance is not None:
            psi, source = discordance, "stated"
        else:
            assert accuracy is not None
            psi, source = 2 * accuracy * (1 - accuracy), "assumed 2p(1-p)"
        icc_source = NO_ICC if icc is None else "stated (--icc)"
        plans.append(binary_plan("stated", psi, icc or 0.0, repeats, None, t, source, icc_source))
    if sd is not None:
        plans.append(seeds_plan("stated (seeds)", sd, None, t))
    return plans
