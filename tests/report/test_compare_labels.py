"""`compare` labels and tests by kind: graded bench scores get the paired t on per-document
differences (exact sign-flip when those are constant), per-seed QA accuracies pair by seed, the
largest deltas carry their scale and are ranked within it. Right values from scipy/statsmodels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from crma_eval.analyze import analyze_paths
from crma_eval.report.compare import compare_runs, markdown
from tests.recordgen import qa, write

N_DOCS = 12


def _records(shift: float, flips: np.ndarray, graded: np.ndarray) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for seed in (0, 1):
        for i in range(10):
            right = bool((i + seed) % 3) ^ bool(flips[seed, i])
            rows.append(qa("with_crma", "med", f"med-{i}", right, seed=seed))
    for arm, values in (("base", graded), ("after", graded + shift)):
        rows += [{"kind": "bench", "task": "tqa", "arm": arm, "doc_id": d, "metric": "mc2",
                  "value": float(v)} for d, v in enumerate(values)]  # fmt: skip
    return rows


def _runs(tmp_path: Path, shift_b: np.ndarray | float) -> tuple[Path, Path, np.ndarray]:
    rng = np.random.default_rng(5)
    graded = rng.uniform(0.2, 0.6, N_DOCS)
    flips = rng.random((2, 10)) < 0.4
    runs = []
    for name, shift, flip in (("a", 0.1, np.zeros_like(flips)), ("b", shift_b, flips)):
        path = write(tmp_path / f"{name}.jsonl", _records(shift, flip, graded))  # type: ignore[arg-type]
        analyze_paths([path], tmp_path / name)
        runs.append(tmp_path / name)
    return runs[0], runs[1], flips


def test_graded_bench_scores_get_the_paired_t_on_documents(tmp_path: Path) -> None:
    shift_b = np.random.default_rng(9).uniform(0.0, 0.3, N_DOCS)
    a, b, _ = _runs(tmp_path, shift_b)
    row = next(p for p in compare_runs(a, b).paired if p.metric == "bench.tqa.after.score")
    graded = np.random.default_rng(5).uniform(0.2, 0.6, N_DOCS)
    want = stats.ttest_rel(graded + shift_b, graded + 0.1)
    assert row.n == N_DOCS and row.p == pytest.approx(want.pvalue)
    assert "paired t" in row.method and "threshold only" not in row.note
    assert (row.only_a, row.only_b) == (int(np.sum(shift_b < 0.1)), int(np.sum(shift_b > 0.1)))


def test_constant_graded_differences_get_the_exact_sign_flip_p(tmp_path: Path) -> None:
    a, b, _ = _runs(tmp_path, 0.3)  # every document 0.2 higher in B: a t-test claims certainty
    row = next(p for p in compare_runs(a, b).paired if p.metric == "bench.tqa.after.score")
    assert row.p == pytest.approx(2 / 2**N_DOCS) and "sign-flip" in row.method


def test_per_seed_accuracy_pairs_by_seed(tmp_path: Path) -> None:
    a, b, flips = _runs(tmp_path, 0.1)
    paired = {p.metric: p for p in compare_runs(a, b).paired}
    for seed in (0, 1):
        row = paired[f"qa.with_crma.seed_{seed}.accuracy"]
        right_a = np.array([bool((i + seed) % 3) for i in range(10)])
        right_b = right_a ^ flips[seed]
        only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
        assert (row.n, row.only_a, row.only_b) == (10, only_a, only_b)
        assert row.p == pytest.approx(mcnemar([[0, only_a], [only_b, 0]], exact=True).pvalue)
        assert "no paired records" not in row.note


def test_largest_deltas_name_their_scale_and_rank_within_it(tmp_path: Path) -> None:
    a, b, _ = _runs(tmp_path, 0.3)
    comp = compare_runs(a, b)
    text = markdown(comp).split("Largest deltas")[1]
    rows = re.findall(r"^\| ([^|`]+) \| `([^`]+)` \| ([^|]+) \| [^|]+ \|$", text, flags=re.M)
    assert rows and "| scale | metric | delta | B vs A |" in text
    seen: dict[str, list[float]] = {}
    for scale, metric, delta in rows:
        assert scale.strip() == comp.info[metric].scale
        seen.setdefault(scale.strip(), []).append(abs(float(delta)))
    assert {"fraction", "percentage points"} <= set(seen)
    assert all(v == sorted(v, reverse=True) for v in seen.values())
