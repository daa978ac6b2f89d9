"""bench plugin: lm-eval over the engine's live model per arm, records, paired analysis, offline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _bench_fixtures import (
    FakeCheckpoint,
    StandInSession,
    gsm8k_docs,
    tiny_model,
    write_gsm8k_task,
    write_mc_task,
)
from references import statsmodels_holm
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.collect import CollectContext, run_units
from crma_eval.config import load_config
from crma_eval.errors import InputError
from crma_eval.plugins.bench import BenchPlugin
from crma_eval.plugins.bench import lmeval as bench_lmeval
from crma_eval.plugins.bench.collect import BenchCollector, cache_key
from crma_eval.plugins.bench.gsm8k import extract_final_answer
from crma_eval.plugins.bench.options import load_options
from crma_eval.records import load_records, write_records
from crma_eval.store import RunDir

ARMS = """    arms:
      - {name: base, checkpoint: none, crma: false, adapter: none}
      - {name: after, checkpoint: final, crma: true, adapter: last}
"""


def _config(folder, tasks, arms=ARMS):
    text = (
        "name: bench-test\nbase_model: tiny-llama-in-process\nplugins: [bench]\noptions:\n"
        f"  bench:\n    tasks: {tasks}\n    include_path: [tasks]\n    cache_dir: cache\n"
        f"    offline: true\n    batch_size: 4\n{arms}"
    )
    path = folder / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def workspace(tmp_path):
    write_mc_task(tmp_path / "tasks", "tiny_mc", n_docs=12)
    write_gsm8k_task(tmp_path / "tasks", "gsm8k_mini", gsm8k_docs(3))
    model, tokenizer = tiny_model()
    return tmp_path, StandInSession(model, tokenizer)


def _collect(folder, config, session, checkpoint, run="run"):
    run_dir = RunDir(folder / run).ensure()
    ctx = CollectContext(config, [checkpoint], run_dir, session_factory=lambda: session)
    failures = run_units({"bench": BenchCollector()}, ctx)
    return failures, run_dir


def _bench_frame(run_dir):
    return load_records(run_dir.record_files())["bench"]


def _paired_table(frame, task, metric, filt=None):
    rows = frame[(frame["task"] == task) & (frame["metric"] == metric)]
    if filt is not None:
        rows = rows[rows["filter"] == filt]
    base = rows[rows["arm"] == "base"].set_index("doc_hash")["value"]
    after = rows[rows["arm"] == "after"].set_index("doc_hash")["value"]
    return base, after.reindex(base.index)


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_before_after_pipeline_offline(workspace):
    folder, session = workspace
    config = _config(folder, "[tiny_mc, gsm8k_mini]")
    ckpt = FakeCheckpoint()
    failures, run_dir = _collect(folder, config, session, ckpt)
    assert failures == []
    assert set(session.calls) == {(ckpt.id, None, False), (ckpt.id, "legal", True)}
    assert session.forwards > 0  # lm-eval ran the engine's own model object
    frame = _bench_frame(run_dir)
    assert set(frame["task"]) == {"tiny_mc", "gsm8k_mini"}
    assert set(frame[frame["arm"] == "after"]["checkpoint"]) == {ckpt.id}

    result = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions())
    m = result.metrics
    base, after = _paired_table(frame, "tiny_mc", "acc_norm")
    assert len(base) == 12 and not after.isna().any()
    assert "bench.tiny_mc.base.score" not in m  # acc and acc_norm: the name says which
    assert m["bench.tiny_mc.base.acc_norm.score"] == pytest.approx(base.mean())
    assert m["bench.tiny_mc.after.acc_norm.n"] == 12
    delta = m["bench.tiny_mc.after_vs_base.acc_norm.delta_pp"]
    assert delta == pytest.approx(100 * (after - base).mean())
    b = int(((after == 1) & (base == 0)).sum())
    c = int(((after == 0) & (base == 1)).sum())
    prefix = "bench.tiny_mc.after_vs_base.acc_norm."
    assert (m[prefix + "b"], m[prefix + "c"]) == (b, c)
    assert b + c > 0  # the arms really ran different weights (deterministic tiny model)
    expected_p = sm_mcnemar([[0, b], [c, 0]], exact=True).pvalue
    assert m[prefix + "pvalue"] == pytest.approx(expected_p)

    gsm = frame[(frame["task"] == "gsm8k_mini") & (frame["filter"] == "crma-corrected")]
    for _, row in gsm.iterrows():
        assert row["prediction"] == (extract_final_answer(row["response"]) or "[invalid]")
    corrected, _ = _paired_table(frame, "gsm8k_mini", "exact_match", "crma-corrected")
    assert m["bench.gsm8k_mini.base.crma-corrected.score"] == pytest.approx(corrected.mean())
    assert "bench.gsm8k_mini.after_vs_base.strict-match.delta_pp" in m
    assert "bench.gsm8k_mini.base.score" not in m  # several filters: the filter is named


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_cache_reuses_answers_only_when_weights_are_unchanged(workspace):
    folder, session = workspace
    config = _config(folder, "[tiny_mc]")
    _, first = _collect(folder, config, session, FakeCheckpoint(), run="first")
    forwards = session.forwards
    _, again = _collect(folder, config, session, FakeCheckpoint(), run="again")
    assert session.forwards == forwards
    cols = ["task", "arm", "doc_id", "metric", "value", "doc_hash"]
    pd.testing.assert_frame_equal(_bench_frame(first)[cols], _bench_frame(again)[cols])

    retrained = FakeCheckpoint(adapter_hash="b" * 64)
    session.calls.clear()
    _, _ = _collect(folder, config, session, retrained, run="retrained")
    assert session.forwards > forwards
    assert session.calls == [(retrained.id, "legal", True)]  # the base arm came from the cache


def test_cache_key_changes_when_a_local_base_model_is_rebuilt_in_place(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"old weights")
    config = _config(tmp_path, "[tiny_mc]")
    config.base_model = str(base)
    ctx = CollectContext(config, [], RunDir(tmp_path / "run"))
    opts = load_options(config)

    def key():
        return cache_key(ctx, opts, opts.arms[0], None, None, "tiny_mc", {"tasks": {}}, 4)

    before = key()
    assert key() == before  # nothing changed: the cache is reused
    (base / "model.safetensors").write_bytes(b"new weights, retrained")
    assert key() != before


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_bad_tasks_fail_their_units_and_lose_nothing(workspace, monkeypatch):
    folder, session = workspace
    (folder / "tasks" / "hub_only.yaml").write_text(
        "task: hub_only\ndataset_path: someone/not_cached_anywhere\ntest_split: test\n"
        "output_type: multiple_choice\ndoc_to_text: '{{q}}'\ndoc_to_choice: ['a', 'b']\n"
        "doc_to_target: 0\n",
        encoding="utf-8",
    )
    # lm-eval's own task index takes ~16 s to build; the error path is the same without it.
    real = bench_lmeval._manager.__wrapped__
    monkeypatch.setattr(bench_lmeval, "_manager", lambda include, defaults: real(include, False))
    config = _config(folder, "[tiny_mc, no_such_task, hub_only]")
    failures, run_dir = _collect(folder, config, session, FakeCheckpoint())
    problems = sorted(f.problem for f in failures)
    assert len(problems) == 4
    source = str(config.source)
    assert all(p.startswith(f"{source}:6: field 'options.bench.tasks.") for p in problems)
    assert sum("does not know the task 'no_such_task'" in p for p in problems) == 2
    assert sum("cannot load the data of task 'hub_only'" in p for p in problems) == 2
    frame = _bench_frame(run_dir)
    assert set(frame["task"]) == {"tiny_mc"} and set(frame["arm"]) == {"base", "after"}


def test_bad_options_name_file_and_line(tmp_path):
    # options.bench is checked when the run config loads, before any unit is planned.
    arms = "    arms:\n      - {name: base, checkpoint: none, crma: true, adapter: none}\n"
    with pytest.raises(InputError) as err:
        _config(tmp_path, "[tiny_mc]", arms=arms)
    assert err.value.path.endswith("run.yaml") and err.value.line == 12
    assert "crma: false" in err.value.problem

    with pytest.raises(InputError) as err:
        _config(tmp_path, "[tiny_mc]", arms="    flavour: 3\n")
    assert err.value.line == 11 and err.value.field == "options.bench.flavour"

    needs_ckpt = _config(tmp_path, "[tiny_mc]", arms="    arms: [{name: after}]\n")
    with pytest.raises(InputError, match="needs a checkpoint"):
        BenchCollector().units(CollectContext(needs_ckpt, [], RunDir(tmp_path / "run")))


# --- analysis from records alone ------------------------------------------------------------------


def _records(path, rows):
    write_records(path, [{"kind": "bench", **r} for r in rows])
    return load_records([path])["bench"]


def _binary_rows(task, base_values, after_values, shuffle_after_ids=False, metric="acc"):
    n = len(base_values)
    ids = list(range(n))
    after_ids = list(reversed(ids)) if shuffle_after_ids else ids
    rows = []
    for i in ids:
        rows.append(
            {
                "task": task,
                "arm": "base",
                "doc_id": i,
                "metric": metric,
                "value": base_values[i],
                "doc_hash": f"{task}-h{i}",
            }
        )
    for i in ids:
        rows.append(
            {
                "task": task,
                "arm": "after",
                "doc_id": after_ids[i],
                "metric": metric,
                "value": after_values[i],
                "doc_hash": f"{task}-h{i}",
            }
        )
    return rows


def test_pairs_on_document_hash_not_mislabelled_doc_id(tmp_path):
    base = [1, 1, 1, 1, 0, 0, 1, 0, 1, 1]
    after = [0, 0, 0, 1, 0, 0, 1, 1, 1, 1]
    frame = _records(tmp_path / "r.jsonl", _binary_rows("t", base, after, shuffle_after_ids=True))
    m = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions()).metrics
    b = sum(a == 1 and x == 0 for a, x in zip(after, base, strict=True))
    c = sum(a == 0 and x == 1 for a, x in zip(after, base, strict=True))
    assert (m["bench.t.after_vs_base.b"], m["bench.t.after_vs_base.c"]) == (b, c) == (1, 3)
    assert m["bench.t.after_vs_base.pvalue"] == pytest.approx(
        sm_mcnemar([[0, b], [c, 0]], exact=True).pvalue
    )


def test_unmatched_document_is_an_error_naming_the_record(tmp_path):
    rows = _binary_rows("t", [1, 0, 1], [1, 1, 1])
    rows[-1]["doc_hash"] = "t-other"
    frame = _records(tmp_path / "r.jsonl", rows)
    with pytest.raises(InputError) as err:
        BenchPlugin().analyze({"bench": frame}, AnalyzeOptions())
    assert err.value.path == str(tmp_path / "r.jsonl") and err.value.line in (3, 6)
    assert "no matching document" in err.value.problem


def test_holm_across_tasks_and_primary_metric(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for task, shift in (("hellaswag", 0.0), ("arc_challenge", 0.35)):
        base = (rng.random(60) < 0.7).astype(int)
        after = np.where(rng.random(60) < shift, 0, base)
        rows += _binary_rows(task, base.tolist(), after.tolist(), metric="acc_norm")
        rows += _binary_rows(task, (1 - base).tolist(), after.tolist(), metric="acc")
    frame = _records(tmp_path / "r.jsonl", rows)
    m = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions()).metrics
    raw = []
    for task in ("hellaswag", "arc_challenge"):
        sub = frame[(frame["task"] == task) & (frame["metric"] == "acc_norm")]
        assert m[f"bench.{task}.base.acc_norm.score"] == pytest.approx(
            sub[sub["arm"] == "base"]["value"].mean()
        )
        raw.append(m[f"bench.{task}.after_vs_base.acc_norm.pvalue"])
    adjusted = statsmodels_holm(raw)
    assert [
        m["bench.hellaswag.after_vs_base.acc_norm.pvalue_holm"],
        m["bench.arc_challenge.after_vs_base.acc_norm.pvalue_holm"],
    ] == pytest.approx(list(adjusted))
    assert not any(".acc." in k for k in m)  # only the primary metric is reported

    chosen = AnalyzeOptions(extra={"bench": {"metrics": {"hellaswag": "acc"}}})
    m_acc = BenchPlugin().analyze({"bench": frame}, chosen).metrics
    sub = frame[
        (frame["task"] == "hellaswag") & (frame["metric"] == "acc") & (frame["arm"] == "base")
    ]
    assert m_acc["bench.hellaswag.base.acc.score"] == pytest.approx(sub["value"].mean())
    both = AnalyzeOptions(extra={"bench": {"metrics": {"hellaswag": ["acc", "acc_norm"]}}})
    m_both = BenchPlugin().analyze({"bench": frame}, both).metrics
    assert m_both["bench.hellaswag.base.acc.score"] == m_acc["bench.hellaswag.base.acc.score"]
    assert m_both["bench.hellaswag.base.acc_norm.score"] == m["bench.hellaswag.base.acc_norm.score"]


def test_graded_metric_uses_t_interval_and_paired_t(tmp_path):
    rng = np.random.default_rng(7)
    base = rng.random(40)
    after = np.clip(base - 0.05 + 0.1 * rng.random(40) - 0.05, 0, 1)
    rows = _binary_rows("truthfulqa_mc2", base.tolist(), after.tolist())
    frame = _records(tmp_path / "r.jsonl", rows)
    result = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions())
    m = result.metrics
    low, high = sps.t.interval(0.95, 39, loc=base.mean(), scale=sps.sem(base))
    assert (m["bench.truthfulqa_mc2.base.ci_low"], m["bench.truthfulqa_mc2.base.ci_high"]) == (
        pytest.approx(low),
        pytest.approx(high),
    )
    prefix = "bench.truthfulqa_mc2.after_vs_base."
    assert m[prefix + "pvalue"] == pytest.approx(sps.ttest_rel(after, base).pvalue)
    assert m[prefix + "delta_ci_low_pp"] < m[prefix + "delta_pp"] < m[prefix + "delta_ci_high_pp"]
    assert prefix + "b" not in m  # McNemar only for 0/1 metrics
    section = BenchPlugin().report_section({"details": result.details, "methods": result.methods})
    assert section.id == "bench" and len(section.blocks) == 5


@pytest.mark.slow
def test_real_engine_session_with_a_lora_checkpoint(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from crma_eval.checkpoint import load_checkpoint, write_manifest
    from crma_eval.engine.session import EngineSession

    model, tokenizer = tiny_model()
    model.get_input_embeddings().weight.data.copy_(model.pristine_embeddings)
    base_dir = tmp_path / "base"
    model.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    torch.manual_seed(3)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(tmp_path / "ckpt" / "adapters" / "legal")
    model.get_input_embeddings().weight.data.copy_(model.pristine_embeddings)
    write_manifest(
        tmp_path / "ckpt",
        {
            "format": "crma-checkpoint/1",
            "base_model": str(base_dir),
            "domain_order": ["medical", "legal"],
            "adapters": {"medical": "adapters/legal", "legal": "adapters/legal"},
            "training": {"condition": "naive", "seed": 0, "phase": 2},
        },
    )
    write_mc_task(tmp_path / "tasks", "tiny_mc", n_docs=8)
    lora_only = ARMS.replace("final, crma: true", "final, crma: false")  # no crma: block
    config = _config(tmp_path, "[tiny_mc]", lora_only)
    checkpoint = load_checkpoint(tmp_path / "ckpt")
    session = EngineSession(str(base_dir), config.engine)
    run_dir = RunDir(tmp_path / "run").ensure()
    ctx = CollectContext(config, [checkpoint], run_dir, session_factory=lambda: session)
    assert run_units({"bench": BenchCollector()}, ctx) == []
    frame = _bench_frame(run_dir)
    assert set(frame["arm"]) == {"base", "after"}
    assert set(frame.loc[frame["arm"] == "after", "checkpoint"]) == {checkpoint.id}
    assert session.stats["adapter_loads"] == 1


def test_zero_variance_drop_gets_the_exact_sign_flip_p(tmp_path):
    base = [0.8, 0.7, 0.9, 0.6, 0.75, 0.85]
    after = [v - 0.1 for v in base]  # every document drops by the same amount
    frame = _records(tmp_path / "r.jsonl", _binary_rows("mc2_task", base, after, metric="mc2"))
    m = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions()).metrics
    assert m["bench.mc2_task.after_vs_base.pvalue"] == pytest.approx(2 / 2**6)  # 0.03125
    assert m["bench.mc2_task.after_vs_base.delta_pp"] == pytest.approx(-10.0)


def test_graded_interval_and_p_agree_and_stay_in_range(tmp_path):
    rng = np.random.default_rng(3)
    for trial in range(30):
        base = rng.random(12) ** 0.2  # near 1: a t-interval of the score can pass 1.0
        after = np.clip(base - 0.05 * rng.random(12) + 0.02, 0, 1)
        rows = _binary_rows("t", base.tolist(), after.tolist(), metric="mc2")
        frame = _records(tmp_path / f"r{trial}.jsonl", rows)
        m = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions()).metrics
        low, high = (
            m["bench.t.after_vs_base.delta_ci_low_pp"],
            m["bench.t.after_vs_base.delta_ci_high_pp"],
        )
        excludes_zero = low > 0 or high < 0
        assert excludes_zero == (m["bench.t.after_vs_base.pvalue"] < 0.05)
        assert m["bench.t.base.ci_low"] >= 0.0 and m["bench.t.base.ci_high"] <= 1.0
        t = sps.ttest_rel(after, base)
        ci = t.confidence_interval(0.95)
        assert low == pytest.approx(100 * max(ci.low, -1)) and high == pytest.approx(
            100 * min(ci.high, 1)
        )


def test_perplexity_is_aggregated_as_lm_eval_and_compared_as_a_ratio(tmp_path):
    rng = np.random.default_rng(5)
    base_ll = -rng.uniform(1, 3, 20)
    after_ll = base_ll - rng.normal(0.1, 0.05, 20)
    rows = _binary_rows("wiki", base_ll.tolist(), after_ll.tolist(), metric="perplexity")
    frame = _records(tmp_path / "r.jsonl", rows)
    result = BenchPlugin().analyze({"bench": frame}, AnalyzeOptions())
    m = result.metrics
    assert m["bench.wiki.base.score"] == pytest.approx(np.exp(-base_ll.mean()))  # lm-eval
    ratio = np.exp(-after_ll.mean()) / np.exp(-base_ll.mean())
    assert m["bench.wiki.after_vs_base.ratio"] == pytest.approx(ratio)
    ci = sps.ttest_rel(-after_ll, -base_ll).confidence_interval(0.95)
    assert m["bench.wiki.after_vs_base.ratio_ci_low"] == pytest.approx(np.exp(ci.low))
    assert m["bench.wiki.after_vs_base.ratio_ci_high"] == pytest.approx(np.exp(ci.high))
    assert not any(k.startswith("bench.wiki.") and k.endswith("_pp") for k in m)
    assert "bench.wiki.after_vs_base.pvalue_bh" in m
