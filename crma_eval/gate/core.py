"""Evaluate a gate spec against a run's results.json (and a baseline run) into a GateReport.

A `metric` rule must match at least one metric (a renamed metric never passes silently) and every
match must lie within its bounds. A `compare` rule measures the worsening from the baseline by the
metric's direction (crma_eval.gate.orient: baseline − current when higher is better, current −
baseline when lower is better; higher assumed, and said, when the catalogue does not know). In
the default mode (significant_drop) it fails only on a worsening larger than `max_drop` that is
also significant (paired McNemar p < alpha; graded values: the paired t / sign-flip test of
`compare`, crma_eval.evidence) where per-item records allow a paired test; otherwise
the detail says the comparison is threshold only. The margin modes (non_inferiority,
equivalence) and the MDE printed beside every compare verdict are in crma_eval.gate.decide.
Without a baseline run a `compare` rule is skipped (one passing outcome whose detail says so),
so one spec serves runs with and without --baseline.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from crma_eval.api.catalogue import MetricInfo, catalogue, describe_label
from crma_eval.derived import FINGERPRINT, results_fingerprint
from crma_eval.discordant import bc_text
from crma_eval.evidence import Evidence, RunRecords, paired_evidence
from crma_eval.fmt import gate_value
from crma_eval.gate.decide import decide_margin, rule_mde
from crma_eval.gate.globs import matching
from crma_eval.gate.model import GateReport, Outcome
from crma_eval.gate.orient import Orientation, orientation
from crma_eval.gate.output import FULL_SUMMARY, SUMMARY_LIMIT, junit_xml, summary_markdown
from crma_eval.gate.spec import Rule, load_spec
from crma_eval.results import load_results
from crma_eval.store import write_json_atomic, write_text_atomic
from crma_eval.values import missing

DROP_TOLERANCE = 1e-12
NO_BASELINE = "skipped: no --baseline RUN_DIR given (compare rules need one)"
LOGLIK_SCALES = ("perplexity", "bits per byte")  # crma_eval.plugins.bench.catalogue
NOT_ESTIMATE = "not an estimate (metric catalogue): threshold only, no paired test"


def check_bounds(rule: Rule, metric: str, value: float | None) -> Outcome:
    """A `metric` rule on one metric: min ≤ value ≤ max (a null value fails)."""
    if value is None or missing(value):
        return Outcome(rule, metric, None, False, "value is null (not computed)")
    if not math.isfinite(value):
        detail = f"{metric} is not finite ({value}): never passes"
        return Outcome(rule, metric, value, False, detail)
    if rule.min is not None and value < rule.min:
        return Outcome(
            rule, metric, value, False, f"{gate_value(value)} is below min {gate_value(rule.min)}"
        )
    if rule.max is not None and value > rule.max:
        return Outcome(
            rule, metric, value, False, f"{gate_value(value)} is above max {gate_value(rule.max)}"
        )
    return Outcome(rule, metric, value, True, "within bounds")


def check_drop(
    rule: Rule,
    metric: str,
    current: float | None,
    baseline: float | None,
    runs: tuple,
    estimate: bool = True,
    orient: Orientation | None = None,
    loglik: bool = False,
) -> Outcome:
    """A `compare` rule on one metric, by its mode (crma_eval.gate.decide), with the MDE.

    estimate: False for a metric the catalogue says is not an estimate (a bound, a count, a
    p-value): it is compared by threshold only, never paired-tested. orient: the metric's
    direction (default: higher-is-better, assumed). loglik: the metric's per-document records
    are log-likelihoods (perplexity, bits per byte): paired-tested, but no margin interval."""
    orient = orient or orientation(None)
    if current is None or baseline is None or missing(current) or missing(baseline):
        where = "baseline" if missing(baseline) else "current run"
        return Outcome(rule, metric, current, False, f"metric missing or null in the {where}")
    for side, value in (("current run", current), ("baseline", baseline)):
        if not math.isfinite(value):
            detail = f"{metric} is not finite ({value}) in the {side}: never passes"
            return Outcome(rule, metric, current, False, detail)
    evidence = (
        paired_evidence(metric, *runs, graded=True)
        if estimate
        else Evidence(None, note=NOT_ESTIMATE)
    )
    mde = None if loglik and evidence.d is not None else rule_mde(rule, evidence)
    drop = orient.worsening(baseline, current)
    head = orient.head(baseline, current)
    tail = "" if mde is None else f"; {mde.text()}"
    extra = {"mode": rule.mode, "mde": None if mde is None else _finite(mde.value)}
    extra |= {"worse_by": drop, "direction": orient.direction, "direction_assumed": orient.assumed}
    if rule.mode != "significant_drop":
        decision = decide_margin(rule, evidence, orient.lower, loglik)
        if decision.interval is not None:
            extra |= {"drop_low": decision.interval.low, "drop_high": decision.interval.high}
        detail = f"{head}; {decision.detail}{tail}"
        return Outcome(rule, metric, current, decision.passed, detail, extra=extra)
    passed, detail = _significant_drop(
        rule, drop, evidence, None if orient.assumed else orient.direction
    )
    return Outcome(rule, metric, current, passed, f"{head}{detail}{tail}", extra=extra)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _significant_drop(
    rule: Rule, drop: float, evidence: Evidence, direction: str | None = None
) -> tuple[bool, str]:
    """Fail iff the worsening > max_drop and (where paired) p < alpha; the detail after the head.
    direction: the catalogue's ("higher"/"lower", None if unknown), for the b/c words."""
    too_big = drop - rule.max_drop > DROP_TOLERANCE  # 0.9 - 0.88 is 0.0200...02 in floats
    if evidence.test is None:
        verdict = (
            f"worse by more than max_drop {gate_value(rule.max_drop)}"
            if too_big
            else "drop within max_drop"
        )
        return not too_big, f" ({verdict}); {evidence.note}"
    test = evidence.test
    significant = test.pvalue < rule.alpha
    counts = bc_text(test.b, test.c, test.method, direction, ("baseline", "current"))
    stats = f"{evidence.note} p = {test.pvalue:.3g} on {evidence.n_pairs} pairs ({counts})"
    if too_big and significant:
        verdict = (
            f"significant drop: > max_drop {gate_value(rule.max_drop)} and p < alpha {rule.alpha:g}"
        )
    elif too_big:
        verdict = f"drop not significant (p ≥ alpha {rule.alpha:g})"
    else:
        verdict = "drop within max_drop"
    return not (too_big and significant), f"; {stats}; {verdict}"


def _estimate(info: dict[str, MetricInfo], metric: str) -> bool:
    """False only for metrics the catalogue knows are not estimates (bounds, counts, p-values);
    a metric whose role is unknown (an undescribed third-party metric) keeps its paired test."""
    return metric not in info or info[metric].role in ("estimate", "unknown")


def _loglik(info: dict[str, MetricInfo], metric: str) -> bool:
    """True for metrics whose per-document records are log-likelihoods (catalogue scale)."""
    return metric in info and info[metric].scale in LOGLIK_SCALES


def _matching(rule: Rule, *metric_maps: dict[str, Any]) -> list[str]:
    names = (name for m in metric_maps for name in m)
    return matching(rule.pattern, names, legacy=rule.legacy_globs)


def evaluate(
    rules: list[Rule],
    metrics: dict[str, Any],
    baseline: dict[str, Any] | None,
    runs: tuple[RunRecords, RunRecords] | None,
    info: dict[str, MetricInfo] | None = None,
) -> list[Outcome]:
    """Every rule's outcomes, in spec order (one per matched metric, or one for no match).

    info: the current run's metric catalogue; no paired test on a metric it says is not an
    estimate."""
    info = info or {}
    outcomes: list[Outcome] = []
    for rule in rules:
        if rule.kind == "metric":
            names = _matching(rule, metrics)
            outcomes += [check_bounds(rule, n, metrics[n]) for n in names]
        elif baseline is None or runs is None:
            outcomes.append(Outcome(rule, rule.pattern, None, True, NO_BASELINE))
            continue
        else:
            names = _matching(rule, metrics, baseline)
            outcomes += [
                check_drop(
                    rule,
                    n,
                    metrics.get(n),
                    baseline.get(n),
                    runs,
                    _estimate(info, n),
                    orientation(info.get(n)),
                    _loglik(info, n),
                )
                for n in names
            ]
        if not names:
            detail = "no metric matches this name or pattern (renamed, or not computed?)"
            outcomes.append(Outcome(rule, rule.pattern, None, False, detail))
    return outcomes


def run_gate(
    run_dir: str | Path, spec_path: str | Path, baseline_dir: str | Path | None = None
) -> GateReport:
    """Check RUN_DIR's results against GATES.yaml; write RUN_DIR/junit.xml and summary.md.

    Bad input (run dir, spec, baseline, unmatched paired items) raises InputError (exit 2) and
    writes nothing; otherwise `report.exit_code` is 0 (all passed) or 1 (a gate failed).
    """
    run_dir, spec_path = Path(run_dir), Path(spec_path)
    results = load_results(run_dir)
    rules = load_spec(spec_path)
    baseline, runs = None, None
    if baseline_dir is not None:
        baseline_dir = Path(baseline_dir)
        baseline = load_results(baseline_dir)["metrics"]
        runs = (RunRecords(baseline_dir), RunRecords(run_dir))
    info = catalogue(results)
    outcomes = evaluate(rules, results["metrics"], baseline, runs, info)
    outcomes = [replace(o, what=describe_label(info[o.metric])) if o.metric in info else o
                for o in outcomes]  # fmt: skip
    report = GateReport(run_dir, spec_path, baseline_dir, outcomes)
    report.junit_path = write_text_atomic(run_dir / "junit.xml", junit_xml(report))
    full = summary_markdown(report)
    short = summary_markdown(report, limit=SUMMARY_LIMIT)
    if short != full:  # over GitHub's limit: the whole table goes next to it
        write_text_atomic(run_dir / FULL_SUMMARY, full)
    report.summary_path = write_text_atomic(run_dir / "summary.md", short)
    write_json_atomic(run_dir / "gate.json", gate_json(report))  # read by the report's CI banner
    return report


def gate_json(report: GateReport) -> dict[str, Any]:
    """RUN_DIR/gate.json: {"passed": bool, "spec": file name, "baseline": run name or null,
    "outcomes": [Outcome.to_dict(), ...], "results_sha256": of the results.json checked} (no
    absolute paths)."""
    return {
        "passed": report.passed,
        "spec": report.spec_path.name,
        "baseline": None if report.baseline_dir is None else report.baseline_dir.resolve().name,
        "outcomes": [o.to_dict() for o in report.outcomes],
        FINGERPRINT: results_fingerprint(report.run_dir),
    }
