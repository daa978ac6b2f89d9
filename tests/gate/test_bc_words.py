"""b / c of paired tests are worded by the metric's direction and what they count (gate and
compare): a lower-is-better 0/1 metric's b is the baseline's extra errors, not 'right' answers."""

from __future__ import annotations

import pytest

from crma_eval.api.catalogue import MetricInfo
from crma_eval.evidence import GRADED_TEST, ITEM_TEST, TEST, Evidence, PairedTest
from crma_eval.gate.core import _significant_drop
from crma_eval.gate.spec import Rule
from crma_eval.report.compare import Comparison, Paired, markdown

RULE = Rule("r", "compare", "x.*.error", 1, max_drop=0.01)


@pytest.mark.parametrize(
    ("method", "direction", "words"),
    [
        (TEST, "lower", "b = 0 answers worse in baseline only, c = 10 answers worse in current"),
        (TEST, "higher", "b = 0 answers better in baseline only, c = 10 answers better in current"),
        (TEST, None, "b = 0 answers higher in baseline only"),
        (ITEM_TEST, "higher", "b = 0 items better in baseline, c = 10 items better in current)"),
        (GRADED_TEST, "lower", "b = 0 documents worse in baseline, c = 10 documents worse in"),
    ],
)  # fmt: skip
def test_gate_words_b_and_c_by_direction_and_unit(
    method: str, direction: str | None, words: str
) -> None:
    evidence = Evidence(PairedTest(1.0, 0.002, 0, 10, method), 100, note=method)
    _, detail = _significant_drop(RULE, 0.1, evidence, direction)
    assert words in detail and "right in" not in detail


def test_compare_cells_say_worse_for_a_lower_is_better_metric() -> None:
    info = {"x.a.error": MetricInfo("estimate", "error rate", direction="lower")}
    paired = [Paired("x.a.error", 0.1, 0.2, n=100, only_a=0, only_b=10, p=0.002, method=TEST)]
    comp = Comparison(("A", "B"), [("x.a.error", 0.1, 0.2)], {"A": [], "B": []}, paired, info=info)
    text = markdown(comp)
    assert "| 0 answers worse | 10 answers worse |" in text
    assert "better in" not in text and "A better" not in text
