"""`crma-eval demo --small` end to end: build, train, every plugin (bench too), report, summary.

One small demo run is shared by the module (about a minute on one core); HOME points at an empty
folder during the run, so a cache written outside the demo folder would show.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from crma_eval.demo import tasks as dt
from crma_eval.demo.domains import DOMAINS, SIZES, SPECS
from crma_eval.demo.run import run_demo

SEEDS = 2  # run_demo(small=True) trains seeds 0 and 1
FILTERS = ("strict-match", "flexible-extract", "crma-corrected")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out, home = tmp_path_factory.mktemp("demo_run"), tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.delenv("CRMA_EVAL_CACHE", raising=False)
        summary = run_demo(out, small=True, quiet=True)
    results = json.loads((out / "results.json").read_text("utf-8"))
    return {"out": out, "home": home, "summary": summary, "results": results}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.mark.slow
def test_drift_is_measured_for_every_condition(demo_run) -> None:
    m = demo_run["results"]["metrics"]
    for cond in ("naive", "frozen", "modular"):
        assert m[f"drift.{cond}.drift.n"] == SEEDS
        assert math.isfinite(m[f"drift.{cond}.drift.mean"])
        assert m[f"drift.{cond}.holdout.mean"] > 0
    # FROZEN evaluates each domain with its own untouched adapter: no drift at all.
    assert abs(m["drift.frozen.drift.mean"]) < 1e-6
    assert "drift.modular_over_frozen.advantage.mean" in m


@pytest.mark.slow
def test_qa_router_and_spectral_metrics(demo_run) -> None:
    m, out = demo_run["results"]["metrics"], demo_run["out"]
    n_items = sum(len(_jsonl(p)) for p in (out / "build" / "data" / "qa").glob("*.jsonl"))
    for arm in ("with_crma", "without_crma"):
        stem = f"qa.{arm}"
        assert m[f"{stem}.n"] == SEEDS * n_items
        assert m[f"{stem}.ci_low"] <= m[f"{stem}.accuracy"] <= m[f"{stem}.ci_high"]
    # (The ablation's size needs the full demo's training; --small learns no facts.)
    ablation = "ablation.with_crma_vs_without_crma"
    with_crma, without = m["qa.with_crma.accuracy"], m["qa.without_crma.accuracy"]
    assert m[f"{ablation}.diff"] == pytest.approx(with_crma - without)
    assert 0 <= m[f"{ablation}.pvalue"] <= 1
    assert 0 <= m["router.overall.accuracy"] <= 1 and "router.ood.auroc" in m
    assert m["router.in_domain.accuracy"] >= 0.55  # centroids from text + queries (was 0.5)
    assert m["spectral.all.n"] > 0 and m["spectral.all.max_dev"] < 1e-6


def _scores(records: list[dict[str, Any]], task: str, metric: str, filt: str | None) -> dict:
    """Mean per-document value per arm, straight from the bench records."""
    by_arm: dict[str, list[float]] = {}
    for r in records:
        if r["task"] == task and r["metric"] == metric and r.get("filter") == filt:
            by_arm.setdefault(r["arm"], []).append(r["value"])
    return {arm: (sum(v) / len(v), len(v)) for arm, v in by_arm.items()}


@pytest.mark.slow
def test_bench_scores_both_tasks_for_both_arms(demo_run) -> None:
    m, out = demo_run["results"]["metrics"], demo_run["out"]
    records = _jsonl(out / "records" / "bench.jsonl")
    n_mc = len(_jsonl(out / "build" / "data" / "bench" / f"{dt.MC_TASK}.jsonl"))
    assert n_mc == sum(SIZES["small"].entities * len(SPECS[d].attributes) for d in DOMAINS)
    cells = [(dt.MC_TASK, "acc_norm", "none", ".acc_norm")]  # acc and acc_norm: named
    cells += [(dt.ARITH_TASK, "exact_match", f, f".{f}") for f in FILTERS]
    for task, metric, filt, seg in cells:
        scores = _scores(records, task, metric, filt)
        assert set(scores) == {"base", "after"}
        for arm, (mean, n) in scores.items():
            assert m[f"bench.{task}.{arm}{seg}.n"] == n
            assert m[f"bench.{task}.{arm}{seg}.score"] == pytest.approx(mean)
        delta = 100 * (scores["after"][0] - scores["base"][0])
        assert m[f"bench.{task}.after_vs_base{seg}.delta_pp"] == pytest.approx(delta)
        low = m[f"bench.{task}.after_vs_base{seg}.delta_ci_low_pp"]
        assert low <= delta <= m[f"bench.{task}.after_vs_base{seg}.delta_ci_high_pp"]
    assert _scores(records, dt.MC_TASK, "acc_norm", "none")["base"][1] == n_mc
    assert _scores(records, dt.ARITH_TASK, "exact_match", "crma-corrected")["base"][1] == dt.N_ARITH
    checkpoints = {arm: {r.get("checkpoint") for r in records if r["arm"] == arm} for arm in scores}
    assert checkpoints == {"base": {None}, "after": {f"modular-seed0-phase{len(DOMAINS)}"}}


@pytest.mark.slow
def test_bench_stays_inside_the_demo_folder(demo_run) -> None:
    out, home = demo_run["out"], demo_run["home"]
    assert list((out / "build" / "cache" / "bench").glob("*.jsonl"))
    assert not (home / ".cache" / "crma_eval").exists()
    assert not (home / ".cache" / "huggingface" / "datasets").exists()


@pytest.mark.slow
def test_cl_matrix_after_every_phase_for_every_condition(demo_run) -> None:
    m = demo_run["results"]["metrics"]
    for cond in ("naive", "frozen", "modular"):
        assert m[f"cl.{cond}.acc.n"] == SEEDS
        assert m[f"cl.{cond}.acc.ci_low"] <= m[f"cl.{cond}.acc"] <= m[f"cl.{cond}.acc.ci_high"]
        assert f"cl.{cond}.r0.{DOMAINS[0]}" in m  # the base arm is row 0
    # FROZEN and MODULAR never touch an earlier adapter (nor the fixed CRMA): identical answers.
    assert m["cl.frozen.bwt"] == m["cl.modular.bwt"] == 0
    assert "cl.modular.cl_routed.fwt" in m and "cl.modular.attribution.routing_error" in m
    assert "Continual-learning matrix" in demo_run["summary"]


@pytest.mark.slow
def test_report_has_every_plugin_section(demo_run) -> None:
    html = (demo_run["out"] / "report.html").read_text("utf-8")
    for section in ("drift", "qa", "ablation", "cl", "router", "spectral", "bench"):
        assert f'id="{section}"' in html
    assert dt.MC_TASK in html and dt.ARITH_TASK in html and "crma-corrected" in html


@pytest.mark.slow
def test_summary_reports_every_plugin(demo_run) -> None:
    summary, m = demo_run["summary"], demo_run["results"]["metrics"]
    for cond in ("naive", "frozen", "modular"):
        assert f"  {cond:<8} drift" in summary
    if not (m.get("qa.with_crma.k") or m.get("qa.without_crma.k")):
        # A smoke run whose adapters answer nothing right says so instead of printing 0.0 %.
        assert "QA and CRMA ablation: not shown, no QA answer right" in summary
        assert "QA with_crma" not in summary
    else:
        assert f"QA with_crma (MODULAR): {m['qa.with_crma.accuracy']:.1%}" in summary
        assert "(item-clustered CR1 95% CI, n = " in summary  # seeds repeat the items
        assert "CRMA ablation, with - without: " in summary
    assert "Router accuracy" in summary and "sigma_max" in summary
    mc, norm = f"bench.{dt.MC_TASK}", "acc_norm"  # acc and acc_norm: names carry the metric
    line = next(x for x in summary.splitlines() if x.startswith(f"Bench {dt.MC_TASK} [{norm}]:"))
    score = f"base {m[f'{mc}.base.{norm}.score']:.1%} -> after {m[f'{mc}.after.{norm}.score']:.1%}"
    assert score in line
    delta = f"{mc}.after_vs_base.{norm}"
    assert f"delta {m[f'{delta}.delta_pp']:+.1f} pp" in line
    low, high = m[f"{delta}.delta_ci_low_pp"], m[f"{delta}.delta_ci_high_pp"]
    assert f"[{low:+.1f}, {high:+.1f}]" in line
    for filt in FILTERS:
        assert f"Bench {dt.ARITH_TASK} [{filt}]: base " in summary
    assert str(demo_run["out"] / "report.html") in summary


@pytest.mark.slow
def test_lm_eval_output_is_logged_in_the_run_directory(demo_run) -> None:
    log = (demo_run["out"] / "logs" / "lm-eval.log").read_text("utf-8")
    assert "Passed an already-initialized model" in log  # lm-eval's warning, not on the console
    assert "Passed an already-initialized" not in demo_run["summary"]


@pytest.mark.slow
def test_every_demo_metric_has_a_declared_catalogue_entry(demo_run) -> None:
    results = demo_run["results"]
    info = results["meta"]["metric_info"]
    assert set(info) == set(results["metrics"])
    assert [m for m, e in info.items() if e.get("fallback")] == []
    ci = info["qa.with_crma.ci_low"]
    assert (ci["method"], ci["unit"]) == ("clustered-cr1", "item")
    assert ci["of"] == "qa.with_crma.accuracy"
