"""The declarative plugin base: dotted paths imported when used, empty frames never analysed."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
import pytest

from crma_eval.api import AnalysisResult, AnalyzeOptions, Plugin, Section, import_path
from crma_eval.plugins.ablation import AblationPlugin
from crma_eval.plugins.qa import QAPlugin
from crma_eval.plugins.router import RouterPlugin

SEEN: list[Any] = []


def count_rows(frame: Any, options: AnalyzeOptions) -> AnalysisResult:
    SEEN.append(frame)
    return AnalysisResult(metrics={"toy.all.n": float(len(frame))})


def toy_section(result: dict[str, Any]) -> Section:
    return Section("toy", "Toy", [])


class ToyPlugin(Plugin):
    name: ClassVar[str] = "toy"
    title: ClassVar[str] = "Toy"
    kinds: ClassVar[tuple[str, ...]] = ("qa", "route")
    analysis: ClassVar[str | None] = f"{__name__}:count_rows"
    section: ClassVar[str | None] = f"{__name__}:toy_section"


class ToyAllPlugin(ToyPlugin):
    analysis_reads_all: ClassVar[bool] = True


def test_main_kind_frame_is_passed_and_empty_or_absent_frames_give_none() -> None:
    SEEN.clear()
    qa = pd.DataFrame({"x": [1, 2, 3]})
    route = pd.DataFrame({"y": [1]})
    result = ToyPlugin().analyze({"qa": qa, "route": route}, AnalyzeOptions())
    assert result is not None and result.metrics == {"toy.all.n": 3.0}
    assert SEEN[-1] is qa
    assert ToyPlugin().analyze({"route": route}, AnalyzeOptions()) is None
    assert ToyPlugin().analyze({"qa": qa.iloc[:0]}, AnalyzeOptions()) is None
    assert len(SEEN) == 1  # the analysis never saw an empty frame


def test_analysis_reads_all_gets_every_frame() -> None:
    SEEN.clear()
    frames = {"qa": pd.DataFrame({"x": [1]}), "route": pd.DataFrame({"y": [1, 2]})}
    result = ToyAllPlugin().analyze(frames, AnalyzeOptions())
    assert [frames] == SEEN and result is not None and result.metrics == {"toy.all.n": 2.0}


def test_section_and_items_defaults() -> None:
    section = ToyPlugin().report_section({})
    assert section is not None and section.id == "toy"
    assert ToyPlugin().report_items(lambda kind: None, {}) == []
    assert Plugin.report_section(ToyPlugin(), {}) is not None
    assert ToyPlugin().load_collector() is None


def test_kinds_default_to_the_declared_record_kinds() -> None:
    assert QAPlugin.kinds == ("qa",)
    assert AblationPlugin.kinds == ("qa",)  # reads another plugin's kind
    assert RouterPlugin.kinds[0] == "route"


def test_relative_paths_resolve_against_the_plugins_package() -> None:
    from crma_eval.plugins.qa.analysis import analyze_qa
    from crma_eval.plugins.qa.collect import QACollector

    assert QAPlugin().load(QAPlugin.analysis or "") is analyze_qa
    assert isinstance(QAPlugin().load_collector(), QACollector)
    assert import_path(".analysis:analyze_qa", "crma_eval.plugins.qa") is analyze_qa


def test_bad_dotted_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="dotted path"):
        import_path("crma_eval.plugins.qa.analysis")
    with pytest.raises(AttributeError):
        import_path("crma_eval.plugins.qa.analysis:nothing_here")
