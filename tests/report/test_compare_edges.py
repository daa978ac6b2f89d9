"""`compare` edges: a run compared with itself (or two runs of one folder name) gets distinct
A/B labels; unchanged estimates never fill the largest deltas; a run without
per-item records says so."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from crma_eval.report.compare import compare_runs, markdown
from tests.report.test_compare_labels import _runs


def test_a_run_compared_with_itself_gets_distinct_labels(tmp_path: Path) -> None:
    a, _, _ = _runs(tmp_path, 0.3)
    comp = compare_runs(a, a)
    assert comp.names == (f"A ({a.name})", f"B ({a.name})")
    assert set(comp.only) == set(comp.names)
    head = next(line for line in markdown(comp).splitlines() if line.startswith("| metric"))
    assert f"higher in A ({a.name})" in head and f"higher in B ({a.name})" in head


def test_largest_deltas_leave_out_unchanged_estimates(tmp_path: Path) -> None:
    a, b, _ = _runs(tmp_path, 0.3)
    comp = compare_runs(a, b)
    text = markdown(comp).split("Largest deltas")[1]
    deltas = [float(d) for d in re.findall(r"^\| [^|`]+ \| `[^`]+` \| ([^|]+) \|", text, re.M)]
    changed = [
        m
        for m, x, y in comp.shared
        if comp.is_estimate(m) and not np.isclose(float(y) - float(x), 0)
    ]
    assert deltas and all(d != 0 for d in deltas)
    assert len(deltas) == min(20, len(changed))
    unchanged = sum(comp.is_estimate(m) and x == y for m, x, y in comp.shared)
    assert unchanged and f"{unchanged} of" in text and "unchanged left out" in text


def test_a_run_without_records_says_why_nothing_is_paired(tmp_path: Path) -> None:
    a, b, _ = _runs(tmp_path, 0.3)
    bare = tmp_path / "bare"
    shutil.copytree(b, bare)
    shutil.rmtree(bare / "records")
    text = markdown(compare_runs(a, bare))
    assert "0 paired tests (no per-item records in bare" in text
