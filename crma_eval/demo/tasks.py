"""Local lm-eval tasks of the embedded demo, so the `bench` plugin runs without any download.

* `demo_facts_mc`: multiple choice over every fact of the demo domains: the QA question, the right
  attribute value and N_DISTRACTORS other values of the same attribute (acc, acc_norm).
* `demo_arith_gsm8k`: GSM8K-format arithmetic word problems in the demo's vocabulary (targets
  ending in `#### N`), generated greedily and scored three ways like tasks/gsm8k_crma:
  strict-match, flexible-extract and crma-corrected (the bench plugin's final-answer filter).
  The base model is taught these problems with free-form sentence answers (`arith_lines`, no
  `#### N` line, and for subtractions a number after the answer), so the three scorers differ
  the way the seed paper describes for fine-tuned models.

Data are JSON Lines under `data/bench/`, loaded through lm-eval's `dataset_path: json` with
absolute paths; the `datasets` cache goes to a folder of the demo too, so nothing leaves it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crma_eval.atomicio import write_jsonl
from crma_eval.demo.domains import QA_PROMPT, QUESTION, SPECS, DemoCorpus

MC_TASK = "demo_facts_mc"
ARITH_TASK = "demo_arith_gsm8k"
TASKS: tuple[str, ...] = (MC_TASK, ARITH_TASK)
N_DISTRACTORS = 3
N_ARITH = 20
ARITH_PROMPT = "Question: {question}\nAnswer:"  # lm-eval gsm8k's zero-shot prompt
MAX_GEN_TOKS = 40
# lm-eval's gsm8k (version 3.0) answer normalisation and filters; crma-corrected added.
GSM8K_IGNORE: tuple[str, ...] = (",", "\\$", "(?s).*#### ", "\\.$")
UTILS_PY = '''"""Hook of the demo's GSM8K-format task: crma_eval's corrected final-answer filter."""

from crma_eval.plugins.bench.gsm8k.filter import FinalAnswerFilter

__all__ = ["FinalAnswerFilter"]
'''


@dataclass(frozen=True)
class DemoTasks:
    """Where `write_tasks` put the task YAMLs (the include_path folder) and their data."""

    folder: Path
    yamls: dict[str, Path]
    data: dict[str, Path]
    names: tuple[str, ...] = TASKS


class _Function(str):
    """A `!function module.name` reference in a task YAML (lm-eval imports it from the folder)."""


class _TaskDumper(yaml.SafeDumper):
    """SafeDumper that writes `_Function` values with lm-eval's `!function` tag, without aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        """Repeated values are written out in full (task YAMLs stay readable)."""
        return True


_TaskDumper.add_representer(
    _Function, lambda dumper, value: dumper.represent_scalar("!function", str(value))
)


def facts_mc_docs(corpus: DemoCorpus) -> list[dict[str, Any]]:
    """One document per fact: question, the right value among shuffled distractors, its index."""
    rng = random.Random(f"{corpus.seed}|bench-mc")
    docs = []
    for name, data in corpus.domains.items():
        spec = SPECS[name]
        for i, fact in enumerate(data.facts):
            others = [v for v in spec.attributes[fact.attribute] if v != fact.value]
            choices = [fact.value, *rng.sample(others, N_DISTRACTORS)]
            rng.shuffle(choices)
            question = QUESTION.format(noun=spec.noun, e=fact.entity, attr=fact.attribute)
            docs.append(
                {
                    "item_id": f"{name}-mc-{i:03d}",
                    "domain": name,
                    "question": question,
                    "choices": choices,
                    "label": choices.index(fact.value),
                }
            )
    return docs


def _problem(noun: str, rng: random.Random) -> tuple[str, str, int]:
    """A one-step word problem: question, the worked expression, the answer."""
    op = rng.choice("+-*")
    if op == "*":
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        question = (
            f"there are {a} boxes with {b} {noun}s in each box . how many {noun}s are there ?"
        )
    elif op == "+":
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        question = f"a shelf holds {a} {noun}s and {b} more arrive . how many {noun}s are there ?"
    else:
        a = rng.randint(10, 60)
        b = rng.randint(1, a - 1)
        question = f"a shelf holds {a} {noun}s and {b} are taken away . how many {noun}s are left ?"
    answer = {"+": a + b, "-": a - b, "*": a * b}[op]
    return question, f"{a}{op}{b}", answer


def _sentence(noun: str, expr: str, answer: int) -> str:
    """The free-form worked answer the base model learns: no `#### N` line; a subtraction's
    sentence names the removed count after the answer (so the last number is not the answer)."""
    a, op, b = re.fullmatch(r"(\d+)([-+*])(\d+)", expr).groups()  # type: ignore[union-attr]
    worked = f"{a} {op} {b} = {answer} . the answer is {answer} {noun}s"
    return worked + (f" , after {b} were taken ." if op == "-" else " .")


def arith_docs(corpus: DemoCorpus, n: int = N_ARITH) -> list[dict[str, str]]:
    """GSM8K-format documents: a question, a worked answer `a+b=<<a+b=c>>c` ending `#### c`
    (the target) and `sentence`, the free-form answer the base model is taught."""
    rng = random.Random(f"{corpus.seed}|bench-arith")
    nouns = [SPECS[name].noun for name in corpus.domains]
    docs = []
    for i in range(n):
        noun = nouns[i % len(nouns)]
        question, expr, answer = _problem(noun, rng)
        docs.append(
            {
                "question": question,
                "answer": f"{expr}=<<{expr}={answer}>>{answer}\n#### {answer}",
                "sentence": _sentence(noun, expr, answer),
            }
        )
    return docs


def arith_lines(corpus: DemoCorpus) -> list[str]:
    """The arithmetic problems as base pre-training text: the task's prompt, then the sentence."""
    return [
        ARITH_PROMPT.format(question=d["question"]) + " " + d["sentence"]
        for d in arith_docs(corpus)
    ]


def _data_kwargs(data: Path, cache: Path) -> dict[str, Any]:
    """lm-eval `dataset_kwargs` of a local JSON Lines test split (datasets cache kept local)."""
    return {"data_files": {"test": str(data)}, "cache_dir": str(cache)}


def facts_mc_config(data: Path, cache: Path) -> dict[str, Any]:
    """Task config of `demo_facts_mc` (the prompt is the demo's QA prompt)."""
    return {
        "task": MC_TASK,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": _data_kwargs(data, cache),
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": QA_PROMPT.replace("{question}", "{{question}}"),
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "label",
        "num_fewshot": 0,
        "metric_list": [
            {"metric": m, "aggregation": "mean", "higher_is_better": True}
            for m in ("acc", "acc_norm")
        ],
        "metadata": {"version": 1.0},
    }


def arith_config(data: Path, cache: Path) -> dict[str, Any]:
    """Task config of `demo_arith_gsm8k`: lm-eval's gsm8k prompt, metric and filters, zero-shot."""
    take_first = {"function": "take_first"}
    return {
        "task": ARITH_TASK,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": _data_kwargs(data, cache),
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": ARITH_PROMPT.replace("{question}", "{{question}}"),
        "doc_to_target": "{{answer}}",
        "num_fewshot": 0,
        "metric_list": [
            {
                "metric": "exact_match",
                "aggregation": "mean",
                "higher_is_better": True,
                "ignore_case": True,
                "ignore_punctuation": False,
                "regexes_to_ignore": list(GSM8K_IGNORE),
            }
        ],
        "generation_kwargs": {
            "until": ["Question:", "</s>"],
            "do_sample": False,
            "temperature": 0.0,
            "max_gen_toks": MAX_GEN_TOKS,
        },
        "filter_list": [
            {
                "name": "strict-match",
                "filter": [
                    {"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"},
                    take_first,
                ],
            },
            {
                "name": "flexible-extract",
                "filter": [
                    {
                        "function": "regex",
                        "group_select": -1,
                        "regex_pattern": "(-?[$0-9.,]{2,})|(-?[0-9]+)",
                    },
                    take_first,
                ],
            },
            {
                "name": "crma-corrected",
                "filter": [{"function": _Function("utils.FinalAnswerFilter")}, take_first],
            },
        ],
        "metadata": {"version": 1.0},
    }


def write_tasks(corpus: DemoCorpus, folder: Path, data_folder: Path, cache: Path) -> DemoTasks:
    """Write both tasks' data (JSON Lines) and YAMLs (+ the filter hook) with absolute paths."""
    folder, data_folder, cache = folder.resolve(), data_folder.resolve(), cache.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        MC_TASK: write_jsonl(data_folder / f"{MC_TASK}.jsonl", facts_mc_docs(corpus)),
        ARITH_TASK: write_jsonl(data_folder / f"{ARITH_TASK}.jsonl", arith_docs(corpus)),
    }
    configs = {
        MC_TASK: facts_mc_config(data[MC_TASK], cache),
        ARITH_TASK: arith_config(data[ARITH_TASK], cache),
    }
    yamls = {}
    for name, config in configs.items():
        text = yaml.dump(config, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True)
        yamls[name] = folder / f"{name}.yaml"
        yamls[name].write_text(text, "utf-8")
    (folder / "utils.py").write_text(UTILS_PY, "utf-8")
    return DemoTasks(folder, yamls, data)
