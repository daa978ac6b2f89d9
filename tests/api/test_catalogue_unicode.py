"""Labels of non-ASCII names and unit counts: every metric of every built-in plugin keeps its
declared catalogue entry when the domains, arms, conditions and tasks hold non-ASCII characters
(metric names slug them: crma_eval.naming); unit counts use English plurals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crma_eval.analyze import analyze_frames
from crma_eval.api.catalogue import MetricInfo, interval_labels, units
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.api.registry import plugins as installed
from tests.api.test_catalogue import _every_kind
from tests.recordgen import frames

# Names as a user might write them; each becomes a `u--...` Punycode slug in metric names.
RENAME = {
    "med": "méd", "law": "lói", "fin": "fïn", "with_crma": "avec_crmà", "naive": "naïve",
    "modular": "modulär", "mc": "mç", "base": "bäse", "routed": "routé",
}  # fmt: skip
PLUGINS = ("cl", "qa", "drift", "router", "bench", "ablation")


def _renamed(value: Any) -> Any:
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return RENAME.get(value, value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    records = [{k: _renamed(v) for k, v in r.items()} for r in _every_kind()]
    tmp: Path = tmp_path_factory.mktemp("unicode")
    opts = AnalyzeOptions(
        extra={"router": {"routed_arm": RENAME["routed"], "oracle_arm": RENAME["with_crma"]}}
    )
    return analyze_frames(frames(tmp, records), opts)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_non_ascii_names_keep_declared_entries(results: dict[str, Any], plugin: str) -> None:
    assert plugin in installed()
    names = [m for m in results["metrics"] if m.split(".")[0] == plugin]
    assert names, plugin
    if plugin != "router":  # router metrics are named by the fixed categories only
        assert any("u--" in m for m in names), f"{plugin}: no non-ASCII name in its metrics"
    info = results["meta"]["metric_info"]
    guessed = [m for m in names if m not in info or info[m].get("fallback")]
    assert guessed == [], f"{plugin}: {len(guessed)} metrics have no declared entry"
    assert all(info[m].get("role") != "unknown" for m in names)


@pytest.mark.parametrize(
    ("unit", "n", "text"),
    [
        ("query", 100, "n = 100 queries"), ("category", 2, "n = 2 categories"),
        ("day", 3, "n = 3 days"), ("item", 60, "n = 60 items"), ("items", 60, "n = 60 items"),
        ("answer", 5, "n = 5 answers"), ("document", 9, "n = 9 documents"),
        ("seed", 3, "n = 3 seeds"), ("box", 2, "n = 2 boxes"), ("query", 1, "n = 1 query"),
    ],
)  # fmt: skip
def test_unit_counts_use_english_plurals(unit: str, n: int, text: str) -> None:
    assert units(n, unit) == text


def test_interval_ranges_use_the_same_plural() -> None:
    infos = [MetricInfo("interval_bound", "x", unit="query", n=k, method="wilson") for k in (4, 9)]
    assert interval_labels(infos).endswith("(n = 4–9 queries)")
