"""QA plugin: accuracy and intervals per arm and domain, routing mismatches, report section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recordgen import frames, qa, qa_arm, section_of
from statsmodels.stats.proportion import proportion_confint

from crma_eval.api.blocks import Figure, KeyValues, Table
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.plugins.qa import QAPlugin

OUTCOMES = {  # (arm, domain) -> correctness per item
    ("base", "med"): [True, False, False, True, False],
    ("base", "law"): [True, True, True],
    ("tuned", "med"): [True, True, True, True, False],
    ("tuned", "law"): [False, True, True],
}


def _records() -> list[dict]:
    return [r for (arm, dom), out in OUTCOMES.items() for r in qa_arm(arm, dom, out)]


def test_counts_and_wilson_intervals_match_statsmodels(tmp_path: Path) -> None:
    metrics = QAPlugin().analyze(frames(tmp_path, _records()), AnalyzeOptions()).metrics
    for (arm, dom), out in OUTCOMES.items():
        k, n = sum(out), len(out)
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (metrics[f"qa.{arm}.{dom}.k"], metrics[f"qa.{arm}.{dom}.n"]) == (k, n)
        assert metrics[f"qa.{arm}.{dom}.accuracy"] == pytest.approx(k / n)
        assert metrics[f"qa.{arm}.{dom}.ci_low"] == pytest.approx(0.0 if k == 0 else low)
        assert metrics[f"qa.{arm}.{dom}.ci_high"] == pytest.approx(1.0 if k == n else high)
    for arm in ("base", "tuned"):
        outs = [c for (a, _), out in OUTCOMES.items() if a == arm for c in out]
        low, high = proportion_confint(sum(outs), len(outs), alpha=0.05, method="wilson")
        assert metrics[f"qa.{arm}.k"] == sum(outs) and metrics[f"qa.{arm}.n"] == len(outs)
        assert metrics[f"qa.{arm}.ci_low"] == pytest.approx(low)
        assert metrics[f"qa.{arm}.ci_high"] == pytest.approx(high)
    assert not any(name.endswith("misrouted") for name in metrics)


def test_other_method_and_confidence(tmp_path: Path) -> None:
    options = AnalyzeOptions(confidence=0.9, ci_method="clopper_pearson")
    result = QAPlugin().analyze(frames(tmp_path, _records()), options)
    low, high = proportion_confint(2, 5, alpha=0.1, method="beta")
    assert result.metrics["qa.base.med.ci_low"] == pytest.approx(low)
    assert result.metrics["qa.base.med.ci_high"] == pytest.approx(high)
    assert result.methods == {"ci": "clopper_pearson", "confidence": "0.9"}


def test_routing_mismatches_are_counted(tmp_path: Path) -> None:
    records = [
        qa("crma", "med", "a", True, routed_domain="med"),
        qa("crma", "med", "b", False, routed_domain="law"),
        qa("crma", "med", "c", False, routed_domain="fin"),
        qa("crma", "law", "d", True),  # the router abstained: a routing failure too
        qa("crma", "law", "e", True, routed_domain="law"),
        qa("oracle", "law", "d", True),  # an arm without routing is never misrouted
    ]
    result = QAPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert result.metrics["qa.crma.med.misrouted"] == 2
    assert result.metrics["qa.crma.law.misrouted"] == 1
    assert result.metrics["qa.crma.misrouted"] == 3
    assert "qa.oracle.misrouted" not in result.metrics
    section = section_of(QAPlugin(), tmp_path, result)
    table = next(b for b in section.blocks if isinstance(b, Table) and b.id == "qa-accuracy")
    assert table.columns[-1] == "Misrouted"
    assert table.rows[0][-1] == "2/3" and table.rows[1][-1] == "1/2"
    assert table.rows[2][-1] == "3/5" and table.rows[3][-1] == "—"  # oracle is not routed
    assert "looks like forgetting" in table.notes[0]
    assert "abstained" in table.notes[0]  # the note says abstentions count, as the numbers do


def test_names_are_slugged_and_collisions_rejected(tmp_path: Path) -> None:
    metrics = (
        QAPlugin()
        .analyze(frames(tmp_path, [qa("with crma", "real estate", "x", True)]), AnalyzeOptions())
        .metrics
    )
    assert metrics["qa.with_crma.real_estate.k"] == 1
    clash = [qa("a b", "d", "x", True), qa("a_b", "d", "x", True)]
    with pytest.raises(InputError, match="which another name already produced"):
        QAPlugin().analyze(frames(tmp_path, clash, "clash.jsonl"), AnalyzeOptions())


def test_no_qa_records_gives_none() -> None:
    assert QAPlugin().analyze({}, AnalyzeOptions()) is None


def _outcomes(arm: str, domain: str | None) -> list[bool]:
    """Correctness of one arm's answers in one domain (all domains when None)."""
    return [c for (a, d), out in OUTCOMES.items() if a == arm and domain in (d, None) for c in out]


def test_report_section(tmp_path: Path) -> None:
    result = QAPlugin().analyze(frames(tmp_path, _records()), AnalyzeOptions())
    section = section_of(QAPlugin(), tmp_path, result)
    assert section.id == "qa"
    headline, side, table = section.blocks[0], section.blocks[1], section.blocks[2]
    assert isinstance(headline, KeyValues) and [k for k, _ in headline.items] == ["base", "tuned"]
    assert "Wilson score 95% CI" in headline.caption
    # the paper's per-domain table: k/n of both arms side by side, difference, totals row
    assert isinstance(side, Table) and side.id == "qa-side-by-side" and side.total_row
    assert side.columns[1:5] == ["base k/n", "base accuracy", "tuned k/n", "tuned accuracy"]
    for row, domain in zip(side.rows, ["med", "law", None], strict=True):
        base, tuned = _outcomes("base", domain), _outcomes("tuned", domain)
        diff = 100 * (np.mean(base) - np.mean(tuned))
        assert row[0] == (domain or "all domains")
        assert row[1] == f"{sum(base)}/{len(base)}" and row[3] == f"{sum(tuned)}/{len(tuned)}"
        assert row[5] == f"{diff:+.1f} pp"
    assert isinstance(table, Table) and table.columns[4] == "Wilson score 95% CI"
    assert table.columns[5:] == ["items", "interval method"]
    assert table.rows[0] == ["base", "med", "2/5", "40.0%", table.rows[0][4], 5, "Wilson score"]
    assert table.rows[2][1] == "all domains" and table.rows[2][2] == "5/8"
    assert len(table.rows) == 6
    assert any(isinstance(b, Figure) and b.svg.startswith("<svg") for b in section.blocks)
