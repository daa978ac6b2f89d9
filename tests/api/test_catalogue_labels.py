"""Catalogue labels of demo-like results: every bound, test and design quantity names the estimate
it belongs to (`of`), every scale is one of the documented set, differences of proportions or
percents are in percentage points, and ratio estimates are labelled as ratio estimators.
Right values come from the per-seed metrics and from lm-eval's own aggregations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lm_eval.api.metrics import weighted_perplexity

from crma_eval.analyze import analyze_frames
from crma_eval.api.catalogue import SCALES, MetricInfo
from crma_eval.api.plugin import AnalyzeOptions
from tests.api.test_catalogue import _every_kind
from tests.recordgen import frames

DOCS = Path(__file__).parents[2] / "docs" / "results.md"
TIED = ("interval_bound", "statistic", "pvalue", "adjusted_pvalue", "pvalue_floor", "df", "flag",
        "design")  # fmt: skip


def _perplexity_rows() -> tuple[list[dict[str, Any]], float]:
    """word_perplexity records of two arms and the perplexity ratio after/base from lm-eval."""
    rng = np.random.default_rng(11)
    words = rng.integers(5, 300, 10).astype(float)
    base = -words * rng.uniform(2, 4, 10)
    after = base + words * rng.normal(0.1, 0.05, 10)
    rows = []
    for arm, values in (("base", base), ("after", after)):
        rows += [{"kind": "bench", "task": "wiki", "arm": arm, "doc_id": i, "metric":
                  "word_perplexity", "value": float(v), "weight": float(words[i])}
                 for i, v in enumerate(values)]  # fmt: skip
    ratio = weighted_perplexity(list(zip(after, words, strict=True))) / weighted_perplexity(
        list(zip(base, words, strict=True))
    )
    return rows, ratio


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], float]:
    rows, ratio = _perplexity_rows()
    opts = AnalyzeOptions(extra={"router": {"routed_arm": "routed", "oracle_arm": "with_crma"}})
    tmp = tmp_path_factory.mktemp("labels")
    return analyze_frames(frames(tmp, _every_kind() + rows), opts), ratio


def _info(results: dict[str, Any]) -> dict[str, MetricInfo]:
    return {k: MetricInfo.from_json(v) for k, v in results["meta"]["metric_info"].items()}


def test_every_bound_test_and_design_quantity_names_an_existing_estimate(demo_like) -> None:
    results, _ = demo_like
    info = _info(results)
    tied = [name for name, e in info.items() if e.role in TIED]
    assert any(n.endswith(".welch.pvalue") for n in tied)  # the drift tests are walked too
    orphans = [n for n in tied if info[n].of not in info or not info[info[n].of].is_estimate]
    assert orphans == []


def test_every_scale_is_one_of_the_documented_set(demo_like) -> None:
    results, _ = demo_like
    used = {e.scale for e in _info(results).values() if e.scale is not None}
    assert used and used <= set(SCALES), used - set(SCALES)
    lines = DOCS.read_text("utf-8").splitlines()
    row = next(line for line in lines if line.startswith("| `scale`"))
    assert set(re.findall(r"`([^`]+)`", row)) >= set(SCALES)


def test_differences_of_proportions_and_percents_are_in_percentage_points(demo_like) -> None:
    results, _ = demo_like
    info, m = _info(results), results["metrics"]
    mde = [n for n in info if n.endswith(".mde_pp") or re.match(r"drift\.\w+_vs_\w+\.mde$", n)]
    assert mde and all(info[n].scale == "percentage points" for n in mde)
    assert all(info[n].scale == info[info[n].of].scale for n in mde)  # an MDE has its estimate's
    # drift a vs b: the difference of two percents, and the estimate the Welch test is about
    drifts = {c: [m[f"drift.{c}.seed_{s}.drift"] for s in range(3)] for c in ("naive", "frozen")}
    diff = "drift.naive_vs_frozen.paired.diff"
    assert m[diff] == pytest.approx(np.mean(drifts["naive"]) - np.mean(drifts["frozen"]))
    assert info[diff].scale == "percentage points" and info["drift.naive.drift.mean"].scale == (
        "percent"
    )
    for test in ("welch.pvalue", "welch.statistic", "permutation.pvalue", "disjoint"):
        assert info[f"drift.naive_vs_frozen.{test}"].of == diff


def test_ratio_estimates_are_labelled_ratio_estimators(demo_like) -> None:
    results, ratio = demo_like
    info, m = _info(results), results["metrics"]
    name = "bench.wiki.after_vs_base.ratio"
    assert m[name] == pytest.approx(ratio)
    assert (info[name].scale, info[name].is_estimate) == ("ratio", True)
    assert "ratio estimator" in (info[name].method or "")
    assert "mean" not in (info[name].method or "")
    # a proportion's delta is a mean of per-document differences, in pp
    pp = info["bench.mc.after_vs_base.delta_pp"]
    assert (pp.scale, pp.method) == ("percentage points", "mean of per-document paired differences")
