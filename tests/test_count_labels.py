"""What b and c count in ablation and compare: items, never answers. With repeated answers an
item counts in b when more of its answers are right under the first arm (per-item totals,
computed here with pandas); the labels say so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crma_eval.api.blocks import Table
from crma_eval.api.catalogue import MetricInfo
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.plugins.ablation import AblationPlugin
from tests.api.test_catalogue import _repeated_qa
from tests.recordgen import frames, qa_arm, section_of


def test_repeated_items_b_and_c_count_items_with_more_right_answers(tmp_path: Path) -> None:
    records = _repeated_qa(seeds=3, items=8)
    result = AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert result is not None
    qa = pd.DataFrame(records)
    wide = qa.pivot_table(index=["domain", "item_id"], columns="arm", values="correct",
                          aggfunc="sum")  # fmt: skip
    totals = wide["with_crma"] - wide["without_crma"]
    prefix = "ablation.with_crma_vs_without_crma"
    assert result.metrics[f"{prefix}.b"] == int((totals > 0).sum())
    assert result.metrics[f"{prefix}.c"] == int((totals < 0).sum())
    b = MetricInfo.from_json(result.metric_info[f"{prefix}.b"].to_json())
    assert b.unit == "item" and "items with more answers right under with_crma" in b.estimand
    table = next(x for x in section_of(AblationPlugin(), tmp_path, result).blocks
                 if isinstance(x, Table))  # fmt: skip
    assert table.columns[5].startswith("b: items with more right answers under")
    assert any("count items, never answers" in note for note in table.notes)


def test_single_answers_b_and_c_count_items_right_under_one_arm_only(tmp_path: Path) -> None:
    a, b = [True, True, False, False, True], [True, False, True, False, False]
    records = qa_arm("x", "d", a) + qa_arm("y", "d", b)
    result = AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert result is not None
    assert (result.metrics["ablation.x_vs_y.b"], result.metrics["ablation.x_vs_y.c"]) == (2, 1)
    words = result.metric_info["ablation.x_vs_y.b"].estimand
    assert words.startswith("items right under x only")
