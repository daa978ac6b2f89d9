"""Router plugin: accuracy per category, macro F1, OOD AUROC, confusion matrix, coverage curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recordgen import frames, route, section_of, stored
from sklearn.metrics import f1_score, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from crma_eval.api.blocks import Figure, KeyValues, Table
from crma_eval.api.plugin import AnalysisResult, AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.plugins.router import RouterPlugin

RECORDS = [
    route("i1", "in_domain", "med", "med", 0.95),
    route("i2", "in_domain", "law", "law", 0.90),
    route("i3", "in_domain", "fin", "fin", 0.85),
    route("i4", "in_domain", "med", "med", 0.80),
    route("b1", "boundary", "med", "law", 0.55),
    route("b2", "boundary", "law", "law", 0.60),
    route("a1", "ambiguous", "fin", None, 0.30),  # abstained on an in-domain query: wrong
    route("o1", "ood", None, None, 0.20),  # abstained on OOD: right
    route("o2", "ood", None, "med", 0.70),  # routed an OOD query: wrong
    route("o3", "ood", None, None, 0.10),
]
CORRECT = {"i1": 1, "i2": 1, "i3": 1, "i4": 1, "b1": 0, "b2": 1, "a1": 0, "o1": 1, "o2": 0, "o3": 1}


@pytest.fixture
def result(tmp_path: Path) -> AnalysisResult:
    return RouterPlugin().analyze(frames(tmp_path, RECORDS), AnalyzeOptions())


def test_accuracy_per_category_and_overall(result: AnalysisResult) -> None:
    m = result.metrics
    for category in ("in_domain", "boundary", "ambiguous", "ood"):
        hits = [CORRECT[r["item_id"]] for r in RECORDS if r["category"] == category]
        low, high = proportion_confint(sum(hits), len(hits), alpha=0.05, method="wilson")
        assert (m[f"router.{category}.k"], m[f"router.{category}.n"]) == (sum(hits), len(hits))
        assert m[f"router.{category}.ci_low"] == pytest.approx(0.0 if sum(hits) == 0 else low)
        assert m[f"router.{category}.ci_high"] == pytest.approx(
            1.0 if sum(hits) == len(hits) else high
        )
    assert "router.perturbed.n" not in m
    assert m["router.overall.k"] == sum(CORRECT.values()) and m["router.overall.n"] == 10


def test_macro_f1_and_auroc_match_sklearn(result: AnalysisResult) -> None:
    known = [r for r in RECORDS if r["gold"] is not None]
    expected_f1 = f1_score(
        [r["gold"] for r in known], [r["predicted"] or "-" for r in known],
        labels=["fin", "law", "med"], average="macro", zero_division=0,
    )  # fmt: skip
    assert result.metrics["router.overall.macro_f1"] == pytest.approx(expected_f1)
    expected_auc = roc_auc_score(
        [r["gold"] is not None for r in RECORDS], [r["score"] for r in RECORDS]
    )
    assert result.metrics["router.ood.auroc"] == pytest.approx(expected_auc)


def test_confusion_matrix(result: AnalysisResult) -> None:
    confusion = result.details["confusion"]
    labels = confusion["labels"]
    assert labels == ["fin", "law", "med", "(none)"]
    counts = np.array(confusion["counts"])
    assert counts.sum() == len(RECORDS)
    cell = {(g, p): counts[i, j] for i, g in enumerate(labels) for j, p in enumerate(labels)}
    assert cell[("med", "law")] == 1 and cell[("fin", "(none)")] == 1
    assert cell[("(none)", "med")] == 1 and cell[("(none)", "(none)")] == 2
    assert np.trace(counts) == sum(CORRECT.values())


def test_selective_accuracy_curve(result: AnalysisResult) -> None:
    curve = result.details["curve"]
    ranked = sorted(RECORDS, key=lambda r: -r["score"])
    hits = np.cumsum([CORRECT[r["item_id"]] for r in ranked])
    assert curve["coverage"] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert curve["accuracy"] == pytest.approx(hits / np.arange(1, 11))
    assert curve["threshold"][0] == 0.95


def test_no_auroc_without_ood(tmp_path: Path) -> None:
    records = [r for r in RECORDS if r["category"] != "ood"]
    result = RouterPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert "router.ood.auroc" not in result.metrics
    section = section_of(RouterPlugin(), tmp_path, result)
    assert dict(section.blocks[0].items)["OOD AUROC"].startswith("— (no out-of-distribution")


def test_ood_query_with_gold_domain_is_an_error(tmp_path: Path) -> None:
    records = [*RECORDS[:3], route("o9", "ood", "med", None, 0.1)]
    with pytest.raises(InputError, match="gold null") as err:
        RouterPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert (err.value.line, err.value.field) == (4, "gold")


def test_no_route_records_gives_none() -> None:
    assert RouterPlugin().analyze({}, AnalyzeOptions()) is None


def test_report_section(result: AnalysisResult, tmp_path: Path) -> None:
    section = section_of(RouterPlugin(), tmp_path, result)
    assert section.id == "router"
    assert isinstance(section.blocks[0], KeyValues)
    accuracy, confusion = [b for b in section.blocks if isinstance(b, Table)]
    shown = ["in-domain", "boundary", "ambiguous", "out-of-distribution", "overall"]
    assert [r[0] for r in accuracy.rows] == shown  # display names, in the categories' order
    assert accuracy.rows[-1][1] == "7/10" and accuracy.columns[-1] == "Wilson score 95% CI"
    assert confusion.columns == ["gold \\ predicted", "fin", "law", "med", "(none)"]
    assert any(isinstance(b, Figure) for b in section.blocks)


def test_headline_gives_n_and_bootstrap_intervals_when_analysed(
    result: AnalysisResult, tmp_path: Path
) -> None:
    entry = stored(tmp_path, result)
    headline = RouterPlugin().report_section(entry).blocks[0]
    n_gold = sum(r["gold"] is not None for r in RECORDS)
    assert f"(n = {n_gold} with a gold domain" in dict(headline.items)["macro F1"]
    assert f"(n = {len(RECORDS)} queries" in dict(headline.items)["OOD AUROC"]
    # intervals as the router analysis stores them: details[group][name_ci_low/high]
    entry["details"]["f1"] = {"macro_f1_ci_low": 0.25, "macro_f1_ci_high": 0.875}
    entry["details"]["ood"] = {"auroc_ci_low": 0.5, "auroc_ci_high": 1.0}
    entry["methods"]["bootstrap"] = "percentile bootstrap over queries, 2000 resamples, seed 0"
    headline = RouterPlugin().report_section(entry).blocks[0]
    items = dict(headline.items)
    assert "[0.25, 0.875]" in items["macro F1"] and f"n = {n_gold}" in items["macro F1"]
    assert "[0.5, 1]" in items["OOD AUROC"] and f"n = {len(RECORDS)}" in items["OOD AUROC"]
    assert "95% percentile bootstrap over queries, 2000 resamples" in headline.caption
