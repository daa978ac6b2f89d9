"""Ablation plugin: paired McNemar per pair of arms, Holm across domains, unmatched items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recordgen import frames, qa, qa_arm, section_of
from references import statsmodels_holm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from crma_eval.api.blocks import Figure, KeyValues, Table
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.plugins.ablation import AblationPlugin

RNG = np.random.default_rng(7)
WITH = {"med": RNG.random(30) < 0.9, "law": RNG.random(25) < 0.8, "fin": RNG.random(20) < 0.85}
WITHOUT = {"med": RNG.random(30) < 0.4, "law": RNG.random(25) < 0.6, "fin": RNG.random(20) < 0.5}


def _records() -> list[dict]:
    records = []
    for dom in WITH:
        records += qa_arm("with_crma", dom, WITH[dom])
    for dom in reversed(list(WITH)):  # a different file order must not change the pairing
        records += qa_arm("without_crma", dom, WITHOUT[dom])
    return records


def _table(x: np.ndarray, y: np.ndarray) -> list[list[int]]:
    return [[int(np.sum(x & y)), int(np.sum(x & ~y))], [int(np.sum(~x & y)), int(np.sum(~x & ~y))]]


def test_mcnemar_matches_statsmodels_per_domain_and_overall(tmp_path: Path) -> None:
    metrics = AblationPlugin().analyze(frames(tmp_path, _records()), AnalyzeOptions()).metrics
    pair = "ablation.with_crma_vs_without_crma"
    for dom in WITH:
        x, y = WITH[dom], WITHOUT[dom]
        table = _table(x, y)
        assert metrics[f"{pair}.{dom}.b"] == table[0][1]
        assert metrics[f"{pair}.{dom}.c"] == table[1][0]
        assert metrics[f"{pair}.{dom}.n"] == x.size
        assert metrics[f"{pair}.{dom}.pvalue"] == pytest.approx(
            sm_mcnemar(table, exact=True).pvalue, rel=1e-9
        )
        assert metrics[f"{pair}.{dom}.diff"] == pytest.approx(x.mean() - y.mean())
        low, high = metrics[f"{pair}.{dom}.diff_ci_low"], metrics[f"{pair}.{dom}.diff_ci_high"]
        assert -1 <= low < x.mean() - y.mean() < high <= 1
    x, y = np.concatenate(list(WITH.values())), np.concatenate(list(WITHOUT.values()))
    assert metrics[f"{pair}.pvalue"] == pytest.approx(
        sm_mcnemar(_table(x, y), exact=True).pvalue, rel=1e-9
    )
    assert metrics[f"{pair}.b"] == int(np.sum(x & ~y)) and metrics[f"{pair}.c"] == int(
        np.sum(~x & y)
    )
    raw = [metrics[f"{pair}.{dom}.pvalue"] for dom in WITH]
    adjusted = statsmodels_holm(raw)
    for dom, expected in zip(WITH, adjusted, strict=True):
        assert metrics[f"{pair}.{dom}.pvalue_holm"] == pytest.approx(expected)


def test_chi2_method_from_options(tmp_path: Path) -> None:
    options = AnalyzeOptions(mcnemar_method="chi2")
    result = AblationPlugin().analyze(frames(tmp_path, _records()), options)
    table = _table(WITH["med"], WITHOUT["med"])
    expected = sm_mcnemar(table, exact=False, correction=True)
    name = "ablation.with_crma_vs_without_crma.med"
    assert result.metrics[f"{name}.statistic"] == pytest.approx(expected.statistic)
    assert result.metrics[f"{name}.pvalue"] == pytest.approx(expected.pvalue)
    assert result.methods["test"] == "mcnemar-chi2"


def test_arms_pair_in_order_of_first_appearance(tmp_path: Path) -> None:
    records = [
        qa(arm, "d", f"i{i}", bool((i + j) % 2))
        for arm, j in (("z", 0), ("a", 1), ("m", 0))
        for i in range(4)
    ]
    records += [qa("other", "d", "elsewhere", True)]  # shares no items: simply not a pair
    result = AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert [(p["a"], p["b"]) for p in result.details["pairs"]] == [
        ("z", "a"),
        ("z", "m"),
        ("a", "m"),
    ]
    assert result.metrics["ablation.z_vs_a.b"] == 2 and result.metrics["ablation.z_vs_a.c"] == 2
    assert result.metrics["ablation.z_vs_m.b"] == 0 and result.metrics["ablation.z_vs_m.c"] == 0
    assert result.metrics["ablation.z_vs_m.pvalue"] == 1.0


def test_items_are_matched_per_seed(tmp_path: Path) -> None:
    records = [
        qa("x", "d", "q1", True, seed=0), qa("x", "d", "q1", False, seed=1),
        qa("y", "d", "q1", False, seed=0), qa("y", "d", "q1", False, seed=1),
    ]  # fmt: skip
    metrics = AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions()).metrics
    assert (metrics["ablation.x_vs_y.n"], metrics["ablation.x_vs_y.b"]) == (2, 1)


def test_unmatched_item_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    records = _records()
    drop = next(
        i for i, r in enumerate(records) if r["arm"] == "without_crma" and r["item_id"] == "law-3"
    )
    del records[drop]
    with pytest.raises(InputError) as err:
        AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    line = next(
        i
        for i, r in enumerate(records, start=1)
        if r["arm"] == "with_crma" and r["item_id"] == "law-3"
    )
    assert err.value.path == str(tmp_path / "records.jsonl") and err.value.line == line
    assert "item_id=law-3" in err.value.problem and "1 unmatched" in err.value.problem


def test_extra_item_in_second_arm_is_an_error(tmp_path: Path) -> None:
    records = [*qa_arm("a", "d", [True, False]), *qa_arm("b", "d", [True, True, False])]
    with pytest.raises(InputError, match=r"arm 'b' has \(domain=d, item_id=d-2\)") as err:
        AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert err.value.line == 5


def test_no_pairs_says_why(tmp_path: Path) -> None:
    result = AblationPlugin().analyze(frames(tmp_path, qa_arm("a", "d", [True])), AnalyzeOptions())
    assert result is not None and result.metrics == {}
    assert result.skipped is not None and "no two qa arms answered the same items" in result.skipped
    assert AblationPlugin().analyze({}, AnalyzeOptions()) is None


def test_report_section_always_shows_b_and_c(tmp_path: Path) -> None:
    result = AblationPlugin().analyze(frames(tmp_path, _records()), AnalyzeOptions())
    section = section_of(AblationPlugin(), tmp_path, result)
    assert isinstance(section.blocks[0], KeyValues)
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert len(tables) == 1
    table = tables[0]
    assert table.columns[5:7] == [
        "b: items right under with CRMA only",
        "c: items right under without CRMA only",
    ]
    assert [r[0] for r in table.rows] == ["med", "law", "fin", "all domains"]
    assert table.rows[-1][5:7] == [
        result.metrics["ablation.with_crma_vs_without_crma.b"],
        result.metrics["ablation.with_crma_vs_without_crma.c"],
    ]
    assert any("McNemar exact binomial test" in note for note in table.notes)


def test_forest_plots_per_domain_for_the_paper_pair_and_one_over_all_pairs(
    tmp_path: Path,
) -> None:
    frozen = [r for dom in WITH for r in qa_arm("frozen", dom, ~WITH[dom])]
    result = AblationPlugin().analyze(frames(tmp_path, [*_records(), *frozen]), AnalyzeOptions())
    section = section_of(AblationPlugin(), tmp_path, result)
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    pairs = result.details["pairs"]
    assert len(pairs) == 3 and len([b for b in section.blocks if isinstance(b, Table)]) == 3
    main = next(p for p in pairs if {p["a"], p["b"]} == {"with_crma", "without_crma"})
    assert [f.id for f in figures] == [
        f"ablation-forest-{main['a']}-vs-{main['b']}-all",  # default: proposed arm vs baseline
        "ablation-forest-pairs",
    ]
    per_domain, overall = figures
    n = sum(len(v) for v in WITH.values())
    assert f"n = {n} items" in per_domain.caption and "Newcombe" in per_domain.caption
    for dom in WITH:  # every domain is a row of the per-domain forest
        assert f">{dom}<" in per_domain.svg
    for pair in pairs:  # every pair is a row of the overall forest (display names)
        names = {"with_crma": "with CRMA", "without_crma": "without CRMA", "frozen": "FROZEN"}
        assert f">{names[pair['a']]} − {names[pair['b']]}<" in overall.svg
    assert all(f.alt and f.svg.startswith("<svg") for f in figures)


def test_arms_compare_on_the_units_both_answered(tmp_path: Path) -> None:
    # A routed arm also answers a domain its checkpoint has not trained, and an arm with
    # `checkpoints: all` answers earlier checkpoints: those units have no partner by design.
    answers = [  # (arm, domain, correct, checkpoint)
        ("oracle", "d1", True, "ck1"), ("oracle", "d1", True, "ck2"), ("oracle", "d2", True, "ck2"),
        ("routed", "d1", False, "ck1"), ("routed", "d2", False, "ck1"),
        ("routed", "d1", True, "ck2"), ("routed", "d2", False, "ck2"),
        ("final", "d1", True, "ck2"), ("final", "d2", True, "ck2"),
    ]  # fmt: skip
    records = [qa(arm, d, "q1", ok, checkpoint=ck) for arm, d, ok, ck in answers]
    result = AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    m = result.metrics
    assert m["ablation.oracle_vs_routed.n"] == 3 and m["ablation.oracle_vs_routed.b"] == 2
    assert m["ablation.oracle_vs_final.n"] == 2  # ck1 (oracle only) left out
    pair = next(p for p in result.details["pairs"] if p["b"] == "routed")
    assert "1 (checkpoint, domain) unit(s) answered by one arm only left out" in pair["pairing"]
    # Inside a shared unit an item without partner is still an error.
    records.append(qa("routed", "d1", "q2", True, checkpoint="ck2"))
    with pytest.raises(InputError, match="q2"):
        AblationPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
