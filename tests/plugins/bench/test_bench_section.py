"""The bench report section: the paper's before/after/delta table, forest plots, discordant
documents; every expected value computed here from the records (numpy/statsmodels/scipy)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from references import statsmodels_holm
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from crma_eval.analyze import analyze_paths
from crma_eval.api.blocks import Figure, Items, KeyValues, Table
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.plugins.bench import BenchPlugin
from crma_eval.records import load_records, write_records
from crma_eval.report.render import render_report

BASE = {"arc": [1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1], "hellaswag": [1, 0, 0, 1, 1, 1, 0, 1, 0, 1]}
AFTER = {"arc": [0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0], "hellaswag": [1, 1, 0, 1, 1, 1, 1, 1, 0, 1]}


def _rows(task, arm, values, metric="acc", texts=True):
    """Records of one task and arm; after-arm doc_ids reversed (pairing is on doc_hash)."""
    n = len(values)
    rows = []
    for i, v in enumerate(values):
        rec = {
            "kind": "bench",
            "task": task,
            "arm": arm,
            "doc_id": (n - 1 - i) if arm == "after" else i,
            "metric": metric,
            "value": v,
            "doc_hash": f"{task}-{i}",
        }
        if texts:
            rec |= {"target": f"gold <{i}>", "prediction": f"{arm} says =SUM({i})"}
        rows.append(rec)
    return rows


def _all_rows():
    rows = []
    for task in BASE:
        rows += _rows(task, "base", BASE[task]) + _rows(task, "after", AFTER[task])
    rng = np.random.default_rng(11)
    base_ll = -rng.uniform(1, 3, 15)
    after_ll = base_ll - rng.normal(0.05, 0.05, 15)
    rows += _rows("wiki", "base", base_ll.tolist(), "perplexity", texts=False)
    rows += _rows("wiki", "after", after_ll.tolist(), "perplexity", texts=False)
    return rows, base_ll, after_ll


@pytest.fixture
def analysed(tmp_path):
    rows, base_ll, after_ll = _all_rows()
    path = tmp_path / "bench.jsonl"
    write_records(path, rows)
    result = BenchPlugin().analyze(load_records([path]), AnalyzeOptions())
    return result, base_ll, after_ll, path


def _table(section, anchor):
    return next(b for b in section.blocks if isinstance(b, Table) and b.id == anchor)


def test_before_after_table_has_the_papers_columns_and_values(analysed):
    result, base_ll, after_ll, _ = analysed
    entry = {"details": result.details, "methods": result.methods, "report": {}}
    section = BenchPlugin().report_section(entry)
    table = _table(section, "before-after")
    assert table.columns[:5] == [
        "Task (filter)",
        "Metric",
        "n pairs",
        "Before (base)",
        "After (after)",
    ]
    by_task = {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}
    assert list(by_task) == ["arc", "hellaswag", "wiki"]  # record order, not alphabetical
    pvalues = []
    for task in ("arc", "hellaswag"):
        base, after = np.array(BASE[task]), np.array(AFTER[task])
        row = by_task[task]
        assert row["n pairs"] == base.size
        assert row["Before (base)"] == f"{100 * base.mean():.1f}%"
        assert row["After (after)"] == f"{100 * after.mean():.1f}%"
        assert row["Δ (after − before)"] == f"{100 * (after.mean() - base.mean()):+.2f} pp"
        b, c = int(((after == 1) & (base == 0)).sum()), int(((after == 0) & (base == 1)).sum())
        p = sm_mcnemar([[0, b], [c, 0]], exact=True).pvalue
        pvalues.append(p)
        assert row["p"] == (f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}")
        assert "Newcombe" in row["Interval; test"] and "McNemar" in row["Interval; test"]
        low, high = row["Δ 95% CI"].removesuffix(" pp").strip("[]").split(", ")
        assert float(low) <= 100 * (after.mean() - base.mean()) <= float(high)
    card = dict(next(b for b in section.blocks if isinstance(b, KeyValues)).items)
    arc = np.array(AFTER["arc"]) - np.array(BASE["arc"])
    assert card["arc, after"].startswith(
        f"{100 * np.mean(BASE['arc']):.1f}% → {100 * np.mean(AFTER['arc']):.1f}%, "
        f"Δ {100 * arc.mean():+.2f} pp ["
    )
    assert "(n = 12 pairs)" in card["arc, after"]
    wiki_p = sps.ttest_rel(-after_ll, -base_ll).pvalue
    holm = statsmodels_holm([*pvalues, wiki_p])
    bh = multipletests([*pvalues, wiki_p], method="fdr_bh")[1]
    for task, h, q in zip(("arc", "hellaswag", "wiki"), holm, bh, strict=True):
        assert by_task[task]["p (Holm)"] == f"{h:.3g}"
        assert by_task[task]["p (BH)"] == f"{q:.3g}"
    ratio = np.exp(np.mean(-after_ll) - np.mean(-base_ll))
    wiki = by_task["wiki"]
    assert wiki["Δ (after − before)"] == f"× {ratio:.4f}" and "pp" not in wiki["Δ 95% CI"]
    assert wiki["Before (base)"] == f"{np.exp(-base_ll.mean()):.4g}"
    assert "log perplexity" in wiki["Interval; test"]


def test_forest_plots_have_stable_ids_names_and_every_interval(analysed):
    result = analysed[0]
    entry = {"details": result.details, "methods": result.methods, "report": {}}
    section = BenchPlugin().report_section(entry)
    figures = {f.id: f for f in section.blocks if isinstance(f, Figure)}
    assert set(figures) == {"forest", "forest-ratio"}
    assert all(f.alt and f.caption for f in figures.values())
    assert "arc, after, 1 up / 4 down" in figures["forest"].svg  # b, c counted by hand
    assert "hellaswag" in figures["forest"].svg and "wiki" not in figures["forest"].svg
    assert "wiki" in figures["forest-ratio"].svg
    names = {"after": "fine-tuned", "base": "pretrained"}
    named = BenchPlugin().report_section({**entry, "report": {"names": names}})
    table = _table(named, "before-after")
    assert table.columns[3:5] == ["Before (pretrained)", "After (fine-tuned)"]


def test_discordant_documents_are_the_flipped_ones_with_texts(analysed):
    result, _, _, path = analysed
    frames = load_records([path])
    entry = {"details": result.details, "methods": result.methods, "report": {}}
    items = BenchPlugin().report_items(frames.get, entry)
    assert [i.id for i in items] == [
        "discordant-arc-none-after-vs-base",
        "discordant-hellaswag-none-after-vs-base",
    ]  # none for perplexity: no 0/1 outcome
    for block, task in zip(items, ("arc", "hellaswag"), strict=True):
        assert isinstance(block, Items)
        base, after = BASE[task], AFTER[task]
        n = len(base)
        flipped = {i for i in range(n) if base[i] != after[i]}
        rows = [dict(zip(block.columns, r, strict=True)) for r in block.rows]
        assert {r["doc hash"] for r in rows} == {f"{task}-{i}" for i in flipped}
        for r in rows:
            i = int(r["doc hash"].split("-")[1])
            assert r["right under"] == ("only after" if after[i] else "only base")
            assert r["doc id"] == str(n - 1 - i)  # the after arm's (reversed) doc_id
            assert r["target"] == f"gold <{i}>"
            assert r["base prediction"] == f"base says =SUM({i})"
            assert r["after prediction"] == f"after says =SUM({i})"


def test_rendered_run_links_bench_tables_and_discordant_files(tmp_path):
    rows, _, _ = _all_rows()
    write_records(tmp_path / "bench.jsonl", rows)
    run = tmp_path / "run"
    analyze_paths([tmp_path / "bench.jsonl"], run)
    html = render_report(run).read_text()
    for anchor in ("bench-before-after", "bench-forest", "bench-forest-ratio", "bench-scores"):
        assert f'id="{anchor}"' in html
    assert 'href="tables/bench-before-after.csv"' in html
    assert "&lt;3&gt;" in html and "gold <3>" not in html  # record text escaped
    with (run / "items" / "bench-discordant-arc-none-after-vs-base.csv").open() as f:
        listed = list(csv.DictReader(f))
    assert 'href="items/bench-discordant-arc-none-after-vs-base.csv"' in html
    assert len(listed) == sum(b != a for b, a in zip(BASE["arc"], AFTER["arc"], strict=True))
    with (run / "tables" / "bench-before-after.csv").open() as f:
        exported = list(csv.reader(f))
    assert [r[0] for r in exported[1:]] == ["arc", "hellaswag", "wiki"]
