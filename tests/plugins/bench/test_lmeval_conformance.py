"""Conformance with lm-eval: its own task definitions run through lm-eval's `hf` model (HFLM) and
through the bench plugin give the same per-document values, task scores and group scores.

Replicas (tests/_lmeval_replicas.py) are lm-eval's installed YAMLs with only the data location
changed; the model is the tiny in-process Llama of tests/_bench_fixtures.py. Log-likelihoods may
differ in the last float bits (the bench's prefix-shared scoring sums in another order).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from _bench_fixtures import StandInSession, tiny_model
from _lmeval_replicas import write_cloze, write_mmlu, write_replicas

from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.collect import CollectContext, run_units
from crma_eval.config import load_config
from crma_eval.plugins.bench import BenchPlugin
from crma_eval.plugins.bench.collect import BenchCollector
from crma_eval.records import load_records
from crma_eval.store import RunDir

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.slow]  # a real tiny model
BOTH = ["acc", "acc_norm"]
METRICS = {"hellaswag_local": BOTH, "arc_challenge_local": BOTH, "cloze_local": BOTH}


def _pristine() -> tuple[Any, Any]:
    model, tokenizer = tiny_model()
    model.get_input_embeddings().weight.data.copy_(model.pristine_embeddings)
    return model, tokenizer


def _hflm_class() -> Any:
    """HFLM with lm-eval PR #4055's pair encoding (plain HFLM asserts on the cloze document)."""
    from lm_eval.models.huggingface import HFLM

    class FixedHFLM(HFLM):  # type: ignore[misc]
        def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
            ctx, cont = super()._encode_pair(context, continuation)
            if not cont:
                spaces = len(context) - len(context.rstrip())
                ctx = self.tok_encode(context[: len(context) - spaces])
                cont = self.tok_encode(context[len(context) - spaces :] + continuation, False)
            return ctx, cont

    return FixedHFLM


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("replicas")
    names = list(write_replicas(root))
    write_mmlu(root, "mmlu_local", weight_by_size=True)
    nested_path = write_mmlu(root, "mmlu_eq", weight_by_size=False)
    write_cloze(root)
    names += ["mmlu_local", "mmlu_eq", "cloze_local"]
    return {"root": root, "names": names, "mmlu_eq_path": nested_path}


@pytest.fixture(scope="module")
def lm_eval_run(replicas: dict[str, Any]) -> dict[str, Any]:
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.tasks import TaskManager

    model, tokenizer = _pristine()
    lm = _hflm_class()(pretrained=model, tokenizer=tokenizer, batch_size=4)
    manager = TaskManager(include_path=[str(replicas["root"] / "tasks")], include_defaults=False)
    return simple_evaluate(
        model=lm,
        tasks=replicas["names"],
        task_manager=manager,
        log_samples=True,
        bootstrap_iters=0,
        fewshot_random_seed=1234,
        cache_requests=False,
    )


def _bench_config(folder: Path, tasks: list[str], include: Path) -> Any:
    text = (
        "name: conformance\nbase_model: tiny-llama-in-process\nplugins: [bench]\noptions:\n"
        f"  bench:\n    tasks: {tasks}\n    include_path: ['{include}']\n    cache: false\n"
        "    offline: true\n    batch_size: 4\n"
        "    arms: [{name: base, checkpoint: none, crma: false, adapter: none}]\n"
    )
    path = folder / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture(scope="module")
def bench_run(replicas: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("bench")
    tasks = [n for n in replicas["names"] if n != "mmlu_eq"] + [str(replicas["mmlu_eq_path"])]
    config = _bench_config(folder, tasks, replicas["root"] / "tasks")
    session = StandInSession(*_pristine())
    run_dir = RunDir(folder / "run").ensure()
    ctx = CollectContext(config, [], run_dir, session_factory=lambda: session)
    failures = run_units({"bench": BenchCollector()}, ctx)
    assert failures == []
    frame = load_records(run_dir.record_files())["bench"]
    options = AnalyzeOptions(extra={"bench": {"metrics": METRICS}})
    return frame, BenchPlugin().analyze({"bench": frame}, options)


def _lm_eval_values(run: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    """lm-eval's per-document values by (task label, doc id, metric, filter)."""
    out = {}
    for task, samples in run["samples"].items():
        label = _label_of(task)
        for sample in samples:
            doc = str(sample["doc_id"]) if label == task else f"{task}/{sample['doc_id']}"
            for metric in sample["metrics"]:
                out[(label, doc, metric, sample["filter"])] = sample[metric]
    return out


def _label_of(task: str) -> str:
    for group in ("mmlu_local", "mmlu_eq"):
        if task.startswith(group + "_"):
            return group
    return task


def _same(ours: float, theirs: Any, weight: float | None) -> bool:
    if isinstance(theirs, tuple):  # rolling log-likelihood: (loglikelihood, words or bytes)
        return weight == theirs[1] and math.isclose(ours, theirs[0], rel_tol=1e-5)
    return math.isclose(ours, float(theirs), rel_tol=1e-5, abs_tol=1e-6)


def test_every_document_value_equals_lm_eval(lm_eval_run: Any, bench_run: Any) -> None:
    frame, _ = bench_run
    theirs = _lm_eval_values(lm_eval_run)
    ours = {
        (r.task, r.doc_id, r.metric, r.filter): (r.value, getattr(r, "weight", None))
        for r in frame.itertuples()
    }
    assert set(ours) == set(theirs)
    wrong = [k for k, (v, w) in ours.items() if not _same(v, theirs[k], _weight(w))]
    assert wrong == []


def _weight(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _score(result: Any, task: str, metric: str, filt: str = "none") -> float:
    rows = result.details["scores"]
    return next(
        r["score"]
        for r in rows
        if (r["task"], r["metric"], r["filter"]) == (task, metric, filt) and r["arm"] == "base"
    )


@pytest.mark.parametrize(
    ("task", "metric", "filt"),
    [
        ("hellaswag_local", "acc", "none"),
        ("hellaswag_local", "acc_norm", "none"),
        ("arc_challenge_local", "acc_norm", "none"),
        ("truthfulqa_mc2_local", "acc", "none"),
        ("winogrande_local", "acc", "none"),
        ("gsm8k_local", "exact_match", "strict-match"),
        ("gsm8k_local", "exact_match", "flexible-extract"),
        ("wikitext_local", "word_perplexity", "none"),
        ("wikitext_local", "byte_perplexity", "none"),
        ("wikitext_local", "bits_per_byte", "none"),
        ("cloze_local", "acc_norm", "none"),
        ("mmlu_local", "acc", "none"),
        ("mmlu_eq", "acc", "none"),
    ],
)
def test_task_and_group_scores_equal_lm_eval(
    lm_eval_run: Any, bench_run: Any, task: str, metric: str, filt: str
) -> None:
    _, result = bench_run
    theirs = lm_eval_run["results"][task][f"{metric},{filt}"]
    assert _score(result, task, metric, filt) == pytest.approx(theirs, rel=1e-5)


def test_sub_groups_and_subtasks_in_the_drill_down(lm_eval_run: Any, bench_run: Any) -> None:
    _, result = bench_run
    subs = {(s["task"], s["name"]): s["score"] for s in result.details["subscores"]}
    results = lm_eval_run["results"]
    names = [n for n in results if n.startswith(("mmlu_local", "mmlu_eq"))]
    assert len(names) == 2 * 6
    for name in names:
        assert subs[(_label_of(name), name)] == pytest.approx(results[name]["acc,none"])
    # weight_by_size: false is not the document mean (the replica's subjects differ in size)
    eq = results["mmlu_eq"]["acc,none"]
    pooled = results["mmlu_local"]["acc,none"]
    assert eq != pytest.approx(pooled)


def test_rewritten_fewshot_split_is_not_served_from_the_cache(tmp_path: Path) -> None:
    from _lmeval_replicas import gsm8k_docs

    from crma_eval.atomicio import write_jsonl

    made = write_replicas(tmp_path / "rep", n=2)
    include = tmp_path / "rep" / "tasks"
    config = _bench_config(tmp_path, ["gsm8k_local"], include)
    config.options["bench"] |= {"cache": True, "cache_dir": str(tmp_path / "cache")}
    session = StandInSession(*_pristine())

    def collect(run: str) -> Any:
        run_dir = RunDir(tmp_path / run).ensure()
        ctx = CollectContext(config, [], run_dir, session_factory=lambda: session)
        assert run_units({"bench": BenchCollector()}, ctx) == []
        return load_records(run_dir.record_files())["bench"]

    collect("first")
    forwards = session.forwards
    collect("again")
    assert session.forwards == forwards  # nothing changed: answers from the cache
    train = tmp_path / "rep" / "data" / "gsm8k_local-train.jsonl"
    assert made["gsm8k_local"].exists() and train.exists()
    write_jsonl(train, gsm8k_docs(3, offset=900))  # only the few-shot split changes
    collect("edited")
    assert session.forwards > forwards  # the edited prompts were run, not read from the cache
    assert len(list((tmp_path / "cache").glob("*.jsonl"))) == 2


def test_predictions_are_the_choice_each_metric_scored(lm_eval_run: Any, bench_run: Any) -> None:
    import numpy as np

    frame, _ = bench_run
    checked = 0
    for task in ("hellaswag_local", "arc_challenge_local", "winogrande_local", "cloze_local"):
        for sample in lm_eval_run["samples"][task]:
            doc = sample["doc"]
            lls = np.array([x[0] for x in sample["filtered_resps"]])
            if task == "winogrande_local":  # several inputs: the gold is an option, by index
                idx = doc["sentence"].index("_")
                choices = [doc["sentence"][:idx] + doc[o] for o in ("option1", "option2")]
                gold = choices[int(doc["answer"]) - 1]
            elif task == "hellaswag_local":
                choices, gold = doc["choices"], doc["choices"][doc["gold"]]
            elif task == "arc_challenge_local":
                choices = doc["choices"]["text"]
                gold = choices[doc["choices"]["label"].index(doc["answerKey"])]
            else:
                choices, gold = doc["choices"], doc["choices"][doc["label"]]
            lengths = np.array([len(c) for c in choices], float)
            expected = {"acc": choices[int(np.argmax(lls))]}
            expected["acc_norm"] = choices[int(np.argmax(lls / lengths))]
            rows = frame[(frame["task"] == task) & (frame["doc_id"] == str(sample["doc_id"]))]
            for row in rows.itertuples():
                assert row.target == gold
                assert row.prediction == expected[row.metric]
                checked += 1
    assert checked > 20


def test_a_document_that_cannot_be_scored_is_logged_and_the_rest_goes_on(tmp_path: Path) -> None:
    import json

    from crma_eval.atomicio import write_jsonl

    long_choice = " ".join(["apple banana"] * 400)  # far more tokens than the 512-token window
    rows = [
        {"q": "Is the sky blue?", "choices": ["yes", "no"], "label": 0},
        {"q": "Is it long?", "choices": ["yes", long_choice], "label": 1},
        {"q": "Is red green?", "choices": ["yes", "no"], "label": 1},
    ]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "long_mc.yaml").write_text(
        f"task: long_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{q}} Answer:'\n"
        "doc_to_choice: '{{choices}}'\ndoc_to_target: label\nmetric_list:\n  - metric: acc\n",
        encoding="utf-8",
    )
    config = _bench_config(tmp_path, ["long_mc"], tmp_path / "tasks")
    session = StandInSession(*_pristine())
    run_dir = RunDir(tmp_path / "run").ensure()
    ctx = CollectContext(config, [], run_dir, session_factory=lambda: session)
    assert run_units({"bench": BenchCollector()}, ctx) == []
    frame = load_records(run_dir.record_files())["bench"]
    assert sorted(frame["doc_id"]) == ["0", "2"]
    logged = (run_dir.path / "logs" / "bench-unscored.jsonl").read_text(encoding="utf-8")
    (row,) = [json.loads(line) for line in logged.splitlines()]
    assert row["doc_id"] == "1" and "longer than the model's context window" in row["reason"]
    frames = load_records(run_dir.record_files())
    (kept,) = frames["bench_unscored"].to_dict("records")
    assert kept["doc_id"] == "1" and kept["arm"] == "base" and kept["reason"] == row["reason"]
    result = BenchPlugin().analyze(frames, AnalyzeOptions())
    assert result is not None and result.metrics["bench.long_mc.base.n_unscored"] == 1
    assert result.metric_info["bench.long_mc.base.n_unscored"].n == 3
