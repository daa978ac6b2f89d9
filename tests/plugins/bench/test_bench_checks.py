"""bench records checked by the scale of their metric (value ranges, log-likelihood weights), the
perplexity ratio from both arms' weights, and the documents that could not be scored. Right
values come from lm-eval's own aggregation functions (weighted_perplexity, bits_per_byte)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from lm_eval.api.metrics import bits_per_byte, perplexity, weighted_perplexity
from references import statsmodels_holm
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.cli import main
from crma_eval.errors import InputError
from crma_eval.plugins.bench import BenchPlugin
from crma_eval.records import load_records, write_records


def _rows(task, metric, arm, values, weights=None, order=None):
    """Records of one task, metric and arm; `order`: the documents' record order."""
    rows = []
    for i in order if order is not None else range(len(values)):
        row = {"kind": "bench", "task": task, "arm": arm, "doc_id": str(i), "metric": metric}
        row |= {"value": float(values[i]), "doc_hash": f"{task}-{i}"}
        if weights is not None:
            row["weight"] = float(weights[i])
        rows.append(row)
    return rows


def _analyze(tmp_path, rows, **extra):
    path = tmp_path / "bench.jsonl"
    write_records(path, rows)
    frames = load_records([path])
    return BenchPlugin().analyze(frames, AnalyzeOptions(extra={"bench": extra}))


def _run(capsys, *args):
    """`crma-eval analyze ...` in process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", *args])
    return exit_.value.code, capsys.readouterr().err


def _cli_error(tmp_path, capsys, rows):
    """`crma-eval analyze` on the rows: exit 2 with one line and no traceback; the line."""
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, err = _run(capsys, str(path), "--out", str(tmp_path / "out"), "--no-report")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _wiki(rng, n=11):
    words = rng.integers(20, 300, n).astype(float)
    base_ll = -words * rng.uniform(2, 4, n)
    after_ll = base_ll + words * rng.normal(0.15, 0.1, n)
    return words, base_ll, after_ll


@pytest.mark.parametrize("metric", ["word_perplexity", "byte_perplexity", "bits_per_byte"])
def test_ratio_is_the_ratio_of_the_reported_scores_in_any_record_order(tmp_path, metric):
    rng = np.random.default_rng(7)
    words, base_ll, after_ll = _wiki(rng)
    order = rng.permutation(words.size)  # the after arm lists its documents in another order
    rows = _rows("wiki", metric, "base", base_ll, words)
    rows += _rows("wiki", metric, "after", after_ll, words, order=order)
    result = _analyze(tmp_path, rows)
    m = result.metrics
    base, after = (list(zip(ll, words, strict=True)) for ll in (base_ll, after_ll))
    agg = bits_per_byte if metric == "bits_per_byte" else weighted_perplexity
    assert m["bench.wiki.base.score"] == pytest.approx(agg(base))
    assert m["bench.wiki.after.score"] == pytest.approx(agg(after))
    # the interval: t (n - 1 df) of the ratio estimator D = Σ(ll_base - ll_after) / Σw
    d = base_ll - after_ll
    est = d.sum() / words.sum()
    se = math.sqrt(np.sum((d - est * words) ** 2) * words.size / (words.size - 1)) / words.sum()
    q = sps.t.ppf(0.975, words.size - 1)
    prefix = "bench.wiki.after_vs_base."
    if metric == "bits_per_byte":
        assert m[prefix + "delta"] == pytest.approx(agg(after) - agg(base))
        assert m[prefix + "delta_ci_low"] == pytest.approx((est - q * se) / math.log(2))
        method = result.metric_info[prefix + "delta"].method
    else:
        assert m[prefix + "ratio"] == pytest.approx(agg(after) / agg(base))
        assert m[prefix + "ratio"] == pytest.approx(m["bench.wiki.after.score"] / m[
            "bench.wiki.base.score"])  # fmt: skip
        assert m[prefix + "ratio_ci_low"] == pytest.approx(math.exp(est - q * se))
        assert m[prefix + "ratio_ci_high"] == pytest.approx(math.exp(est + q * se))
        method = result.metric_info[prefix + "ratio"].method
    assert "ratio estimator" in method and "paired mean" not in method


def test_plain_perplexity_ratio_is_lm_eval_perplexity_of_each_arm(tmp_path):
    rng = np.random.default_rng(8)
    base_ll, after_ll = -rng.uniform(1, 3, 9), -rng.uniform(1, 3, 9)
    rows = _rows("lambada", "perplexity", "base", base_ll)
    rows += _rows("lambada", "perplexity", "after", after_ll, order=range(8, -1, -1))
    m = _analyze(tmp_path, rows).metrics
    ratio = perplexity(list(after_ll)) / perplexity(list(base_ll))
    assert m["bench.lambada.after_vs_base.ratio"] == pytest.approx(ratio)


def test_a_document_weighing_differently_under_two_arms_is_bad_input(tmp_path, capsys):
    rng = np.random.default_rng(9)
    words, base_ll, after_ll = _wiki(rng, 6)
    other = words.copy()
    other[3] += 5  # another text of document 3 under the after arm
    rows = _rows("wiki", "word_perplexity", "base", base_ll, words)
    rows += _rows("wiki", "word_perplexity", "after", after_ll, other)
    line = _cli_error(tmp_path, capsys, rows)
    assert "records.jsonl:10: field 'weight':" in line  # the after arm's record of document 3
    assert "'wiki'" in line and "document '3'" in line and "records.jsonl:4" in line
    assert "recollect" in line


BAD = [
    ("acc", 1.5, None, "value", "outside [0, 1]"),
    ("acc_norm", -0.25, None, "value", "outside [0, 1]"),
    ("exact_match", 2.0, None, "value", "outside [0, 1]"),
    ("mc2", 1.0000001, None, "value", "outside [0, 1]"),
    ("word_perplexity", 0.5, 12.0, "value", "above 0"),
    ("byte_perplexity", -3.0, None, "weight", "weight missing"),
    ("bits_per_byte", -3.0, 0.0, "weight", "below 1"),
    ("word_perplexity", -3.0, 0.5, "weight", "below 1"),
    ("perplexity", 1.7, None, "value", "above 0"),
]


@pytest.mark.parametrize(("metric", "value", "weight", "field", "problem"), BAD)
def test_values_outside_their_scale_exit_2_naming_file_line_field(
    tmp_path, capsys, metric, value, weight, field, problem
):
    rows = []
    for arm in ("base", "after"):
        for i in range(4):
            good = -10.0 if metric.endswith(("perplexity", "byte")) else float(i % 2)
            row = {"kind": "bench", "task": "t", "arm": arm, "doc_id": str(i), "metric": metric}
            row |= {"value": good, "weight": 7.0}
            rows.append(row)
    rows[6]["value"] = value
    if weight is None:
        del rows[6]["weight"]
    else:
        rows[6]["weight"] = weight
    line = _cli_error(tmp_path, capsys, rows)
    assert line.startswith(f"crma-eval: error: {tmp_path / 'records.jsonl'}:7: field '{field}':")
    assert problem in line and ("recollect" in line or "options.bench.scales" in line)


def test_range_comes_from_the_scale_not_the_name(tmp_path):
    rows = [
        {"kind": "bench", "task": "t", "arm": a, "doc_id": str(i), "metric": "score100",
         "value": float(v)}
        for a in ("base", "after") for i, v in enumerate((40, 70, 95, 60))
    ]  # fmt: skip
    m = _analyze(tmp_path, rows).metrics  # unknown scale: any finite number
    assert m["bench.t.after_vs_base.delta"] == 0.0
    with pytest.raises(InputError, match="outside \\[0, 1\\]") as info:
        _analyze(tmp_path, rows, scales={"score100": "fraction"})
    assert info.value.field == "value" and info.value.line == 1
    rows[3]["value"] = 150.0
    with pytest.raises(InputError, match="outside \\[0, 100\\]"):
        _analyze(tmp_path, rows, scales={"score100": "percent"})


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_value_or_weight_exits_2_with_the_next_step(tmp_path, capsys, bad):
    for field in ("value", "weight"):
        good = '{"kind": "bench", "task": "t", "arm": "base", "doc_id": "0", '
        good += '"metric": "word_perplexity", "value": -4.0, "weight": 3}\n'
        broken = good.replace('"doc_id": "0"', '"doc_id": "1"')
        broken = broken.replace('"weight": 3', f'"weight": {bad}') if field == "weight" else (
            broken.replace("-4.0", bad))  # fmt: skip
        (tmp_path / "records.jsonl").write_text(good + broken, encoding="utf-8")
        code, err = _run(capsys, str(tmp_path / "records.jsonl"), "--out", str(tmp_path / "o"))
        assert code == 2
        assert f"records.jsonl:2: field '{field}': not finite" in err
        assert "write a finite number or leave the record out" in err


def test_unscored_documents_are_counted_per_task_and_arm_with_their_reason(tmp_path):
    rows = _rows("mc", "acc", "base", [1, 0, 1, 1]) + _rows("mc", "acc", "after", [1, 1, 0, 1])
    reason = "a continuation is longer than the model's context window"
    for arm in ("base", "after"):
        rows += [
            {"kind": "bench_unscored", "task": "mc", "arm": arm, "doc_id": d, "reason": reason,
             "subtask": "mc"}
            for d in ("7", "9")
        ]  # fmt: skip
    rows.append({"kind": "bench_unscored", "task": "mc", "arm": "after", "doc_id": "11",
                 "reason": "other cause", "subtask": "mc"})  # fmt: skip
    result = _analyze(tmp_path, rows)
    assert result.metrics["bench.mc.base.n_unscored"] == 2
    assert result.metrics["bench.mc.after.n_unscored"] == 3
    info = result.metric_info["bench.mc.after.n_unscored"]
    assert info.role == "count" and info.unit == "document" and info.n == 4 + 3
    entry = {"details": result.details, "methods": result.methods, "report": {}}
    section = BenchPlugin().report_section(entry)
    table = next(b for b in section.blocks if getattr(b, "id", None) == "unscored")
    by_arm = {r[1]: r for r in table.rows}
    assert by_arm["base"][2:4] == [2, 6] and f"{reason} (2)" in by_arm["base"][4]
    assert "other cause (1)" in by_arm["after"][4]
    clean = _analyze(tmp_path, rows[:8])  # nothing unscored: counts 0, no table
    assert clean.metrics["bench.mc.after.n_unscored"] == 0
    section = BenchPlugin().report_section({"details": clean.details, "methods": clean.methods})
    assert all(getattr(b, "id", None) != "unscored" for b in section.blocks)


@pytest.mark.parametrize(("metric", "weight"), [("acc", -1.0), ("exact_match", 0.5), ("acc", 0)])
def test_a_weight_below_1_on_any_metric_exits_2_naming_file_line_field(
    tmp_path, capsys, metric, weight
):
    rows = _rows("t", metric, "base", [1, 0, 1]) + _rows("t", metric, "after", [1, 1, 0])
    rows[4]["weight"] = weight
    line = _cli_error(tmp_path, capsys, rows)
    assert "records.jsonl:5: field 'weight':" in line and "below 1" in line


@pytest.mark.parametrize("subtask", [None, "mc"])
def test_a_document_both_scored_and_unscored_exits_2_naming_both_records(tmp_path, capsys, subtask):
    rows = _rows("mc", "acc", "base", [1, 0, 1, 1]) + _rows("mc", "acc", "after", [1, 1, 0, 1])
    unscored = {"kind": "bench_unscored", "task": "mc", "arm": "after", "doc_id": "2",
                "reason": "too long"}  # fmt: skip
    if subtask is not None:
        unscored["subtask"] = subtask
    other = dict(unscored, doc_id="9")  # a document only unscored: fine
    line = _cli_error(tmp_path, capsys, [*rows, other, unscored])
    assert "records.jsonl:10: field 'doc_id':" in line
    assert "document '2'" in line and "records.jsonl:7" in line  # the scored record
    # the same doc id unscored under another arm or subtask is another document
    fine = [*rows, other, dict(unscored, arm="other"), dict(unscored, subtask="mc_sub")]
    assert _analyze(tmp_path, fine).metrics["bench.mc.after.n_unscored"] == 2  # 9, mc_sub 2


def test_a_tasks_perplexity_triple_is_one_member_of_the_multiplicity_family(tmp_path):
    rng = np.random.default_rng(5)
    words, base_ll, after_ll = _wiki(rng, n=30)
    nbytes = words * 5.3 + rng.integers(0, 9, words.size)
    rows = []
    for metric, w in (("word_perplexity", words), ("byte_perplexity", nbytes),
                      ("bits_per_byte", nbytes)):  # fmt: skip
        rows += _rows("wiki", metric, "base", base_ll, w) + _rows(
            "wiki", metric, "after", after_ll, w
        )
    for task, flips in (("arc", 6), ("hs", 9)):
        base = np.array([1] * 40 + [0] * 40)
        after = base.copy()
        after[:flips] = 0  # documents right only before
        rows += _rows(task, "acc", "base", base) + _rows(task, "acc", "after", after)
    deltas = _analyze(tmp_path, rows).details["deltas"]
    raw = {(d["task"], d["metric"]): d["pvalue"] for d in deltas}
    wiki = [p for (task, _), p in raw.items() if task == "wiki"]
    assert len(wiki) == 3
    for d in deltas:
        others = [p for (task, _), p in raw.items() if task not in ("wiki", d["task"])]
        if d["task"] != "wiki":
            others.append(min(wiki))
        family = [d["pvalue"], *others]
        assert len(family) == 3  # arc, hs, wiki: one test each
        assert d["pvalue_holm"] == pytest.approx(statsmodels_holm(family)[0])
        assert d["pvalue_bh"] == pytest.approx(multipletests(family, method="fdr_bh")[1][0])


def test_a_task_with_accuracy_and_perplexity_reports_both(tmp_path):
    rng = np.random.default_rng(3)
    ll_base, ll_after = -rng.uniform(1, 6, 20), -rng.uniform(1, 6, 20)
    acc_base, acc_after = rng.integers(0, 2, 20), rng.integers(0, 2, 20)
    rows = _rows("lam", "acc", "base", acc_base) + _rows("lam", "acc", "after", acc_after)
    rows += _rows("lam", "perplexity", "base", ll_base)
    rows += _rows("lam", "perplexity", "after", ll_after)
    m = _analyze(tmp_path, rows).metrics
    assert m["bench.lam.after.acc.score"] == pytest.approx(acc_after.mean())
    assert m["bench.lam.after.perplexity.score"] == pytest.approx(perplexity(ll_after.tolist()))
    assert m["bench.lam.base.perplexity.score"] == pytest.approx(perplexity(ll_base.tolist()))
