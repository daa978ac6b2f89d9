"""`crma-eval compare RUN_A RUN_B`: deltas, paired McNemar on shared items, flipped items."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from recordgen import qa_arm, write
from statsmodels.stats.contingency_tables import mcnemar

from crma_eval.analyze import analyze_paths
from crma_eval.cli import cli

RNG = np.random.default_rng(11)
A = {"med": RNG.random(40) < 0.5, "law": RNG.random(30) < 0.6}
B = {"med": A["med"] ^ (RNG.random(40) < 0.3), "law": A["law"] ^ (RNG.random(30) < 0.1)}


def _run(tmp_path: Path, name: str, outcomes: dict, extra_arm: bool = False) -> Path:
    records = [r for dom, out in outcomes.items() for r in qa_arm("with_crma", dom, out)]
    same = {dom: A[dom][: len(out)] for dom, out in outcomes.items()}  # the arms pair up
    records += [r for dom, out in same.items() for r in qa_arm("without_crma", dom, out)]
    if extra_arm:
        records += [r for dom, out in same.items() for r in qa_arm("frozen", dom, ~out)]
    analyze_paths([write(tmp_path / f"{name}.jsonl", records)], tmp_path / name)
    return tmp_path / name


def test_compare_writes_deltas_paired_tests_and_flipped_items(tmp_path: Path) -> None:
    run_a, run_b = _run(tmp_path, "run_a", A), _run(tmp_path, "run_b", B, extra_arm=True)
    out = tmp_path / "cmp"
    result = CliRunner().invoke(cli, ["compare", str(run_a), str(run_b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "compare.md").read_text()
    html = (out / "compare.html").read_text()
    a, b = np.concatenate(list(A.values())), np.concatenate(list(B.values()))
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    expected_p = mcnemar([[0, only_a], [only_b, 0]], exact=True).pvalue
    delta = b.mean() - a.mean()
    row = next(line for line in md.splitlines() if "`qa.with_crma.accuracy`" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == f"{delta:+.4g}" and cells[4] == str(len(a))
    assert cells[5:7] == [f"{only_a} answers better", f"{only_b} answers better"]
    assert float(cells[7]) == float(f"{expected_p:.3g}")
    unchanged = next(line for line in md.splitlines() if "`qa.without_crma.accuracy`" in line)
    assert (
        "| 0 answers better | 0 answers better | 1 |" in unchanged
    )  # same answers in both runs: nothing discordant
    assert re.search(r"\(0 only in run_a, [1-9]\d* only in run_b\)", md)  # frozen: B only
    assert "qa.frozen.accuracy" in html  # listed under "Metrics in one run only"
    # flipped items: exactly the items right in one run only, as a complete list beside the page
    flipped = out / "items" / "compare-flipped-qa_with_crma_accuracy.csv"
    rows = list(csv.DictReader(flipped.open()))
    want = {f"{d}-{i}" for d in A for i in np.flatnonzero(A[d] != B[d])}
    assert {r["item_id"] for r in rows} == want and len(rows) == only_a + only_b
    assert not (out / "items" / "compare-flipped-qa_without_crma_accuracy.csv").exists()
    assert str(tmp_path) not in html and str(tmp_path) not in md  # no machine paths


def test_unmatched_items_are_named_not_fatal(tmp_path: Path) -> None:
    run_a = _run(tmp_path, "run_a", A)
    fewer = {"med": B["med"][:-1], "law": B["law"]}  # one med item missing in B
    run_b = _run(tmp_path, "run_b", fewer)
    result = CliRunner().invoke(cli, ["compare", str(run_a), str(run_b)])
    assert result.exit_code == 0, result.output
    html = (run_b / "compare" / "compare.html").read_text()
    assert "not paired" in html and "med-39" in html  # names the item found in one run only
