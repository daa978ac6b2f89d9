"""bench analysis from records: metric scales (pp only for proportions), R's "essentially
constant" rule, rolling log-likelihood weights, pairing by metric and filter, gsm8k_crma default.
Right values are computed here with numpy/scipy and lm-eval's own aggregation functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lm_eval.api.metrics import bits_per_byte, weighted_perplexity
from scipy import stats as sps

from crma_eval import InputError
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.plugins.bench import BenchPlugin
from crma_eval.plugins.bench.continuous import unbounded_compare, unbounded_score
from crma_eval.plugins.bench.options import DEFAULT_TASKS
from crma_eval.records import load_records, write_records


def _frame(tmp_path, rows):
    path = tmp_path / "bench.jsonl"
    write_records(path, [{"kind": "bench", **r} for r in rows])
    return load_records([path])["bench"]


def _rows(task, metric, base, after, filt=None, weights=None):
    rows = []
    for arm, values in (("base", base), ("after", after)):
        for i, v in enumerate(values):
            row = {"task": task, "arm": arm, "doc_id": i, "metric": metric, "value": float(v)}
            row |= {"doc_hash": f"{task}-{i}", "filter": filt}
            if weights is not None:
                row["weight"] = float(weights[i])
            rows.append(row)
    return rows


def _analyze(frame, **extra):
    return BenchPlugin().analyze({"bench": frame}, AnalyzeOptions(extra={"bench": extra}))


def test_points_metric_is_not_reported_in_pp(tmp_path):
    rng = np.random.default_rng(2)
    base = rng.uniform(20, 40, 12)
    after = base + 6.95 + rng.normal(0, 1, 12)
    result = _analyze(_frame(tmp_path, _rows("wmt", "bleu", base, after)))
    m = result.metrics
    assert not any(k.endswith("_pp") for k in m)  # BLEU is 0-100 points, not a proportion
    assert m["bench.wmt.after_vs_base.delta"] == pytest.approx((after - base).mean())
    ci = sps.ttest_rel(after, base).confidence_interval(0.95)
    assert m["bench.wmt.after_vs_base.delta_ci_low"] == pytest.approx(ci.low)
    assert m["bench.wmt.after_vs_base.delta_ci_high"] == pytest.approx(ci.high)
    assert result.details["deltas"][0]["unit"] == "points"
    # a score above 1 is never clipped to [0, 1]: the range comes from the metric, not the data
    assert m["bench.wmt.after.ci_high"] > 1


def test_percent_scale_from_options_gives_pp_without_scaling(tmp_path):
    base = np.array([50.0, 60.0, 70.0, 40.0, 90.0, 30.0])
    after = base + np.array([6.0, 8.0, 7.0, 5.0, 9.0, 6.7])
    frame = _frame(tmp_path, _rows("t", "score100", base, after))
    m = _analyze(frame, scales={"score100": "percent"}).metrics
    assert m["bench.t.after_vs_base.delta_pp"] == pytest.approx((after - base).mean())  # 6.95
    assert not math.isclose(m["bench.t.after_vs_base.delta_pp"], 695.0)
    unknown = _analyze(frame).metrics  # no scale known: the metric's own units, no pp
    assert "bench.t.after_vs_base.delta_pp" not in unknown
    assert unknown["bench.t.after_vs_base.delta"] == pytest.approx(6.95)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_differences_equal_up_to_rounding_get_the_exact_sign_flip_p(tmp_path):
    base = np.array([0.13, 0.27, 0.41, 0.58, 0.66, 0.82])  # after = base + 0.1 stays <= 1
    after = base + 0.1
    d = after - base
    assert np.ptp(d) > 0  # rounding: not exactly equal
    assert sps.ttest_rel(after, base).pvalue < 1e-20  # the t-test would claim certainty
    m = _analyze(_frame(tmp_path, _rows("t", "mc2", base, after))).metrics
    assert m["bench.t.after_vs_base.pvalue"] == pytest.approx(2 / 2**6)  # 0.03125
    assert m["bench.t.after_vs_base.delta_pp"] == pytest.approx(10.0)


def test_rolling_loglikelihood_weighted_by_words_and_bytes_as_lm_eval(tmp_path):
    rng = np.random.default_rng(4)
    n = 9
    words = rng.integers(5, 400, n).astype(float)
    base_ll = -words * rng.uniform(2, 4, n)
    after_ll = base_ll + words * rng.normal(0.2, 0.1, n)
    rows = _rows("wiki", "word_perplexity", base_ll, after_ll, weights=words)
    rows += _rows("wiki", "bits_per_byte", base_ll, after_ll, weights=4 * words)
    result = _analyze(_frame(tmp_path, rows))
    m = result.metrics
    items = list(zip(base_ll, words, strict=True))
    assert m["bench.wiki.base.word_perplexity.score"] == pytest.approx(weighted_perplexity(items))
    byte_items = list(zip(after_ll, 4 * words, strict=True))
    assert m["bench.wiki.after.bits_per_byte.score"] == pytest.approx(bits_per_byte(byte_items))
    ratio = weighted_perplexity(list(zip(after_ll, words, strict=True))) / weighted_perplexity(
        items
    )
    prefix = "bench.wiki.after_vs_base."
    assert m[prefix + "word_perplexity.ratio"] == pytest.approx(ratio)
    bits = bits_per_byte(byte_items) - bits_per_byte(list(zip(base_ll, 4 * words, strict=True)))
    assert m[prefix + "bits_per_byte.delta"] == pytest.approx(bits)
    # interval: ratio estimator D = Σd/Σw, se from the delta method (statsmodels-free, by hand)
    d = -(after_ll - base_ll)
    est = d.sum() / words.sum()
    se = math.sqrt(np.var(d - est * words, ddof=1) * n) / words.sum()
    q = sps.t.ppf(0.975, n - 1)
    assert m[prefix + "word_perplexity.ratio_ci_low"] == pytest.approx(math.exp(est - q * se))
    assert m[prefix + "word_perplexity.ratio_ci_high"] == pytest.approx(math.exp(est + q * se))
    assert m[prefix + "word_perplexity.pvalue"] == pytest.approx(2 * sps.t.sf(abs(est) / se, n - 1))
    assert not any(k.endswith("_pp") for k in m)


def test_pairing_takes_one_metric_and_one_filter(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for metric in ("acc", "acc_norm"):
        rows += _rows("arc", metric, rng.integers(0, 2, 30), rng.integers(0, 2, 30))
    for filt in ("strict-match", "flexible-extract"):
        rows += _rows("gsm", "exact_match", rng.integers(0, 2, 20), rng.integers(0, 2, 20), filt)
    frame = _frame(tmp_path, rows)
    plugin = BenchPlugin()
    for name, metric in (
        ("bench.arc.after.acc_norm.score", "acc_norm"),
        ("bench.arc.after.acc.score", "acc"),
        ("bench.arc.after.score", "acc_norm"),  # no metric named: the primary one
    ):
        spec = plugin.pairing(name)
        assert spec is not None
        chosen = spec.select(frame)
        assert len(chosen) == 30 and set(chosen["metric"]) == {metric}
    chosen = plugin.pairing("bench.gsm.after.strict-match.score").select(frame)
    assert len(chosen) == 20 and set(chosen["filter"]) == {"strict-match"}
    assert plugin.pairing("bench.gsm.after.score").select(frame).empty  # which filter? none


def test_gsm8k_crma_replaces_gsm8k_in_the_default_tasks():
    assert "gsm8k_crma" in DEFAULT_TASKS and "gsm8k" not in DEFAULT_TASKS


def test_a_perplexity_beyond_float64_is_bad_input_and_a_bound_beyond_it_is_unbounded() -> None:

    with pytest.raises(InputError, match=r"word_perplexity: exp\(1000\) is beyond 1e\+100"):
        unbounded_score(np.array([-1000.0, -1000.0]), "word_perplexity", 0.95)
    with pytest.raises(InputError, match=r"exp\(700\) is beyond 1e\+100"):  # finite, 1e304
        unbounded_score(np.array([-700.0, -700.0]), "word_perplexity", 0.95)
    wide = unbounded_score(np.array([-1.0, -400.0]), "word_perplexity", 0.95)
    assert wide["score"] == pytest.approx(math.exp(200.5)) and wide["ci_high"] == math.inf
    with pytest.raises(InputError, match="ratio"):
        unbounded_compare(
            np.array([-1e3, -1e3]), np.array([-1.0, -1.0]), "word_perplexity", 0.95, 0
        )


def test_an_overflowing_perplexity_names_task_arm_and_file(tmp_path):
    rows = _rows("wiki", "word_perplexity", [-1000.0, -1000.0], [-1.0, -1.0], weights=[1, 1])
    with pytest.raises(InputError, match=r"task 'wiki', .*arm 'base': word_perplexity: exp") as err:
        _analyze(_frame(tmp_path, rows))
    assert err.value.path is not None and err.value.path.endswith(".jsonl")
