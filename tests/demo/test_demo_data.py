"""The demo's synthetic data: the corpus generator, its router suite and the local lm-eval tasks
(no model, no torch; the built checkpoints are tested in test_demo.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

from crma_eval.demo import domains as dm
from crma_eval.demo import tasks as dt
from crma_eval.plugins.router.records import ROUTE_CATEGORIES

DOMAINS = list(dm.DOMAINS)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- data generator -------------------------------------------------------------------------


def test_generator_is_deterministic_under_a_seed(tmp_path: Path) -> None:
    a, b, other = dm.generate(7, "small"), dm.generate(7, "small"), dm.generate(8, "small")
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.asdict(a) != dataclasses.asdict(other)
    files_a = dm.write_corpus(a, tmp_path / "a")
    files_b = dm.write_corpus(b, tmp_path / "b")
    for name in DOMAINS:
        assert _sha(files_a.train[name]) == _sha(files_b.train[name])
    assert _sha(files_a.router_suite) == _sha(files_b.router_suite)


def test_domains_have_distinct_vocabularies_and_facts() -> None:
    corpus = dm.generate(0, "small")
    entities = [set(d.entities) for d in corpus.domains.values()]
    assert sum(len(e) for e in entities) == len(set().union(*entities))
    for data in corpus.domains.values():
        assert not set(data.holdout) & set(data.train)
        for fact in data.facts:  # each fact is stated in training text and again in holdout text
            assert any(fact.entity in t and f" {fact.value} " in t for t in data.train)
            assert any(fact.entity in t and f" {fact.value} " in t for t in data.holdout)


def test_qa_items_ask_facts_of_the_training_text() -> None:
    for data in dm.generate(0, "small").domains.values():
        assert len({q["item_id"] for q in data.qa}) == len(data.qa) > 0
        for item in data.qa:
            assert set(item) == {"item_id", "question", "reference", "answer_type"}
            line = dm.QA_PROMPT.format(question=item["question"]) + " " + item["reference"]
            assert line in data.train


def _vocabulary(data: dm.DomainData) -> set[str]:
    spec = dm.SPECS[data.name]
    words = {spec.noun, *data.entities}
    for attr, values in spec.attributes.items():
        words |= {*attr.split(), *values}
    return words - {"the", "of"}


def _counts(query: str, corpus: dm.DemoCorpus) -> dict[str, int]:
    tokens = query.split()
    return {n: sum(t in _vocabulary(d) for t in tokens) for n, d in corpus.domains.items()}


def test_router_suite_categories_follow_their_rules() -> None:
    corpus = dm.generate(3, "full")
    items = corpus.router_suite
    assert {i["category"] for i in items} == set(ROUTE_CATEGORIES)
    assert len({i["item_id"] for i in items}) == len(items)
    for item in items:
        present = sorted(n for n, c in _counts(item["query"], corpus).items() if c)
        if item["category"] == "ood":
            assert item["gold"] is None and "acceptable" not in item
        elif item["category"] == "in_domain":
            assert present == [item["gold"]]
        elif item["category"] == "boundary":
            asked = item["query"].split(". ", 1)[1]
            assert [n for n, c in _counts(asked, corpus).items() if c] == [item["gold"]]
            assert item["rival"] != item["gold"]
        elif item["category"] == "ambiguous":
            assert item["acceptable"] == sorted(DOMAINS) and item["gold"] in DOMAINS
        else:
            assert item["gold"] in DOMAINS and item["query"] != item["source"]


# --- built artefacts --------------------------------------------------------------------------


# --- local lm-eval tasks (bench plugin) -------------------------------------------------------


def test_mc_docs_ask_every_fact_among_distractors_of_the_same_attribute() -> None:
    corpus = dm.generate(0, "small")
    docs = dt.facts_mc_docs(corpus)
    facts = [(name, f) for name, d in corpus.domains.items() for f in d.facts]
    assert len(docs) == len(facts) and len({d["item_id"] for d in docs}) == len(docs)
    labels = set()
    for doc, (name, fact) in zip(docs, facts, strict=True):
        spec = dm.SPECS[name]
        assert doc["question"] == dm.QUESTION.format(
            noun=spec.noun, e=fact.entity, attr=fact.attribute
        )
        assert doc["choices"][doc["label"]] == fact.value
        assert len(set(doc["choices"])) == len(doc["choices"]) == dt.N_DISTRACTORS + 1
        assert set(doc["choices"]) <= set(spec.attributes[fact.attribute])
        labels.add(doc["label"])
    assert len(labels) > 1  # the right answer is not always in the same place


def test_arith_docs_are_gsm8k_format_with_correct_answers() -> None:
    docs = dt.arith_docs(dm.generate(0, "small"))
    assert len(docs) == dt.N_ARITH
    for doc in docs:
        work, final = doc["answer"].split("\n#### ")
        expr = work.split("=", 1)[0]
        a, op, b = re.fullmatch(r"(\d+)([-+*])(\d+)", expr).groups()
        value = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
        assert int(final) == value >= 0 and work == f"{expr}=<<{expr}={value}>>{value}"
        assert a in doc["question"] and b in doc["question"]


def test_arith_sentences_defeat_strict_match_and_only_the_corrected_scorer_reads_all() -> None:
    from crma_eval.plugins.bench.gsm8k import extract_final_answer

    corpus = dm.generate(0, "small")
    docs = dt.arith_docs(corpus)
    flexible = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")  # lm-eval gsm8k flexible-extract
    last_is_answer = []
    for doc in docs:
        final = doc["answer"].split("\n#### ")[1]
        assert "####" not in doc["sentence"]  # strict-match finds nothing
        assert extract_final_answer(doc["sentence"]) == final
        last = next(g for g in flexible.findall(doc["sentence"])[-1] if g)
        last_is_answer.append(last.rstrip(".") == final)
    assert any(last_is_answer) and not all(last_is_answer)  # subtractions end on another number
    lines = dt.arith_lines(corpus)
    assert lines == [f"Question: {d['question']}\nAnswer: {d['sentence']}" for d in docs]


def test_bench_summary_line_survives_an_undefined_interval() -> None:
    from crma_eval.demo.run import bench_lines

    metrics = {
        "bench.t.base.score": 0.5,
        "bench.t.after.score": 0.75,
        "bench.t.after_vs_base.delta_pp": 25.0,
        "bench.t.after_vs_base.delta_ci_low_pp": None,  # NaN in results.json is null
        "bench.t.after_vs_base.delta_ci_high_pp": None,
    }
    [line] = bench_lines(metrics)
    assert "50.0% -> after 75.0%" in line and "+25.0 pp" in line and "[n/a, n/a]" in line
