"""Router numbers on the right unit (issue 20): queries, not query x checkpoint; order-free
curves under ties; bootstrap resamples lacking a class skipped and counted; oracle gap at the
item level when items repeat."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from recordgen import frames, qa, route, section_of
from statsmodels.stats.proportion import proportion_confint

from crma_eval.api.blocks import KeyValues, Table
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.plugins.router import RouterPlugin
from crma_eval.plugins.router import metrics as rm

DOMAINS = ("fin", "law", "med")


def _suite(n: int = 21) -> list[dict]:
    """n queries: 2 of 3 in-domain routed right, every third misrouted; a few OOD."""
    rows = []
    for i in range(n):
        if i % 7 == 6:
            rows.append(route(f"q{i}", "ood", None, None if i % 2 else "fin", 0.1 + i / 100))
            continue
        gold = DOMAINS[i % 3]
        predicted = gold if i % 3 else DOMAINS[(i + 1) % 3]
        rows.append(route(f"q{i}", "in_domain", gold, predicted, 0.5 + i / 100))
    return rows


def _for(checkpoints: list[str], rows: list[dict]) -> list[dict]:
    return [{**r, "checkpoint": ck} for ck in checkpoints for r in rows]


def test_shared_router_counts_each_query_once(tmp_path: Path) -> None:
    suite = _suite()
    once = RouterPlugin().analyze(frames(tmp_path, suite, "one.jsonl"), AnalyzeOptions())
    four = RouterPlugin().analyze(
        frames(tmp_path, _for(["a", "b", "c", "d"], suite), "four.jsonl"), AnalyzeOptions()
    )
    m1, m4 = once.metrics, four.metrics
    correct = sum(
        (r["gold"] is None and r["predicted"] is None) or r["gold"] == r["predicted"] for r in suite
    )
    assert m4["router.overall.n"] == len(suite)  # 21 queries, not 84
    assert m4["router.overall.k"] == correct
    low, high = proportion_confint(correct, len(suite), method="wilson")
    assert (m4["router.overall.ci_low"], m4["router.overall.ci_high"]) == (
        pytest.approx(low),
        pytest.approx(high),
    )
    # Every number equals the single-checkpoint analysis, intervals included.
    for name, value in m1.items():
        assert m4[name] == pytest.approx(value, nan_ok=True), name
    assert "shared by 4 checkpoints" in four.methods["unit"]


def test_several_routers_cluster_by_query_with_per_checkpoint_rows(tmp_path: Path) -> None:
    base = _suite()
    other = [
        {**r, "predicted": r["gold"]} if i % 2 and r["gold"] else r for i, r in enumerate(base)
    ]
    records = _for(["a"], base) + _for(["b"], other)
    result = RouterPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    m = result.metrics
    right = np.array(
        [(r["gold"] is None and r["predicted"] is None) or r["gold"] == r["predicted"]
         for r in base + other], dtype=float,
    )  # fmt: skip
    queries = np.tile(np.arange(len(base)), 2)
    assert m["router.overall.n"] == len(base)
    assert m["router.overall.n_observations"] == 2 * len(base)
    assert m["router.overall.accuracy"] == pytest.approx(right.mean())
    fit = sm.OLS(right, np.ones_like(right)).fit(cov_type="cluster", cov_kwds={"groups": queries})
    assert m["router.overall.ci_low"] <= right.mean() - 1.959963984540054 * fit.bse[0] + 1e-12
    for ck, rows in (("a", base), ("b", other)):
        k = int(right[: len(base)].sum() if ck == "a" else right[len(base) :].sum())
        assert m[f"router.overall.checkpoint_{ck}.k"] == k
        assert m[f"router.overall.checkpoint_{ck}.n"] == len(rows)
        low, _ = proportion_confint(k, len(rows), method="wilson")
        assert m[f"router.overall.checkpoint_{ck}.ci_low"] == pytest.approx(low)
    assert "clustered" in result.methods["bootstrap"]
    assert set(m) <= set(result.metric_info)  # every metric described in the catalogue
    info = result.metric_info["router.overall.ci_low"]
    assert (info.method, info.n, info.unit) == ("clustered-cr1", len(base), "query")
    assert result.metric_info["router.overall.checkpoint_a.ci_low"].method == "wilson"
    section = section_of(RouterPlugin(), tmp_path, result)
    captions = [b.caption for b in section.blocks if isinstance(b, Table)]
    assert any("per checkpoint" in c for c in captions)


def test_aurc_does_not_depend_on_record_order_under_ties(tmp_path: Path) -> None:
    # Issue 20: 15 tied records, AURC 0.3162 vs 0.1194 depending on the order.
    rows = [route(f"q{i}", "in_domain", "fin", "fin" if i % 3 else "law", 0.5) for i in range(15)]
    forward = RouterPlugin().analyze(frames(tmp_path, rows, "f.jsonl"), AnalyzeOptions())
    backward = RouterPlugin().analyze(frames(tmp_path, rows[::-1], "b.jsonl"), AnalyzeOptions())
    aurc = forward.metrics["router.selective.aurc"]
    assert aurc == pytest.approx(backward.metrics["router.selective.aurc"], abs=1e-12)
    # One tie group: every prefix has the group's misroute rate 5/15 in expectation.
    assert aurc == pytest.approx(5 / 15)
    # Brute force over all orders of a small tie group (independent computation).
    s = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    ok = np.array([True, False, True, True, False])
    orders = list(itertools.permutations([1, 2, 3]))
    expected = np.mean(
        [np.mean([np.mean(~ok[[0, *o, 4]][:k]) for k in range(1, 6)]) for o in orders]
    )
    assert rm.risk_coverage(s, ok)["aurc"] == pytest.approx(expected)


def test_perfect_router_f1_interval_skips_resamples_lacking_a_domain(tmp_path: Path) -> None:
    # One rare domain (1 of 40 queries): many resamples lack it. Those must be skipped, not
    # scored F1 = 0 for it (which gave a perfect router the interval [0.667, 1.0]).
    rows = [route(f"q{i}", "in_domain", "fin" if i else "law", "fin" if i else "law", 0.9)
            for i in range(40)]  # fmt: skip
    result = RouterPlugin().analyze(frames(tmp_path, rows), AnalyzeOptions())
    m = result.metrics
    assert m["router.overall.macro_f1"] == 1.0
    assert (m["router.overall.macro_f1_ci_low"], m["router.overall.macro_f1_ci_high"]) == (1, 1)
    skipped = result.details["bootstrap_skipped"]["macro_f1"]
    # P(resample lacks the one 'law' query) = (39/40)^40 = 0.363: about 363 of 1000.
    assert 300 < skipped < 430
    assert "skipped" in result.methods["bootstrap"]
    headline = section_of(RouterPlugin(), tmp_path, result).blocks[0]
    assert f"{skipped} resamples lacking a class skipped" in dict(headline.items)["macro F1"]


def _oracle_records(seeds: int) -> list[dict]:
    """18 items; the routed arm misroutes items 0-5 under every seed (wrong there), oracle right."""
    rows = []
    for seed in range(seeds):
        for i in range(18):
            domain = "fin" if i % 2 else "law"
            right = i >= 6
            routed_to = domain if right else None
            rows.append(qa("oracle", domain, f"i{i}", True, seed=seed))
            rows.append(qa("routed", domain, f"i{i}", right, seed=seed, routed_domain=routed_to))
    return rows


def test_oracle_gap_is_tested_on_items_when_they_repeat(tmp_path: Path) -> None:
    records = [*_suite(), *_oracle_records(5)]
    result = RouterPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    m = result.metrics
    # 90 paired answers of 18 items; 6 items behind under the routed arm, 12 tied.
    assert m["router.oracle_gap.n"] == 18
    assert m["router.oracle_gap.n_observations"] == 90
    assert (m["router.oracle_gap.items_b"], m["router.oracle_gap.items_c"]) == (0, 6)
    assert m["router.oracle_gap.pvalue"] == pytest.approx(2 / 2**6)  # not McNemar on 30 vs 0
    assert "router.oracle_gap.mcnemar_b" not in m
    assert m["router.oracle_gap.gap"] == pytest.approx(6 / 18)
    assert "item-level" in result.methods["oracle_gap"]
    assert set(m) <= set(result.metric_info)
    pinfo = result.metric_info["router.oracle_gap.pvalue"]
    assert (pinfo.method, pinfo.unit, pinfo.n) == ("sign-flip-permutation", "item", 18)
    section = section_of(RouterPlugin(), tmp_path, result)
    numbers = [b for b in section.blocks if isinstance(b, KeyValues) and "forgetting" in b.caption]
    assert dict(numbers[0].items)["paired items"] == "18 items (90 paired answers)"
