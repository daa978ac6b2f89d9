"""Local replicas of lm-eval's own benchmark tasks, generated from the installed lm-eval.

Each replica is the installed task folder copied aside (YAMLs, utils, group files) plus one
override YAML that includes the original and changes only where the data come from: local JSON
Lines files in the dataset's own schema (`dataset_path: json`). So the prompts, choices, metrics,
filters, few-shot settings and group rules are lm-eval's, and follow its version.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from crma_eval.atomicio import write_jsonl

LM_EVAL_TASKS = Path(__import__("lm_eval").__file__).parent / "tasks"
WORDS = (
    "the", "cat", "sat", "on", "a", "mat", "while", "dogs", "ran", "far", "from", "home", "under",
    "blue", "skies", "and", "red",
)  # fmt: skip


def _phrase(i: int, n: int = 5) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n))


def _copy_family(family: str, root: Path) -> Path:
    """The installed task folder `family`, copied under root/src (outside the include path)."""
    target = root / "src" / family
    if not target.exists():
        ignore = shutil.ignore_patterns("__pycache__", "README.md")
        shutil.copytree(LM_EVAL_TASKS / family, target, ignore=ignore)
    return target


def _override(
    root: Path, source: Path, task: str, splits: dict[str, list[dict[str, Any]]], **extra: Any
) -> Path:
    """An override YAML: include the original, read each split from a local JSON Lines file."""
    data = {
        split: str(write_jsonl(root / "data" / f"{task}-{split}.jsonl", rows))
        for split, rows in splits.items()
    }
    config = {
        "include": str(source),
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": data},
        **extra,
    }
    path = root / "tasks" / f"{task}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def hellaswag_docs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "ind": i,
            "activity_label": ["Cooking", "Running a marathon", "Gardening"][i % 3],
            "ctx_a": f"A person {_phrase(i)}.",
            "ctx_b": f"then they {_phrase(i + 1, 3)}",
            "ctx": f"A person {_phrase(i)}. then they {_phrase(i + 1, 3)}",
            "endings": [_phrase(i + k, 3 + k) + " [title] done." for k in range(4)],
            "source_id": f"src~{i}",
            "split": "val",
            "split_type": "indomain",
            "label": str(i % 4),
        }
        for i in range(n)
    ]


def arc_docs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"Mercury_{i}",
            "question": f"Which {_phrase(i, 4)}?",
            "choices": {
                "text": [_phrase(i + k, 1 + (k + i) % 4) for k in range(4 - i % 2)],
                "label": ["A", "B", "C", "D"][: 4 - i % 2],
            },
            "answerKey": ["A", "B", "C"][i % 3],
        }
        for i in range(n)
    ]


def truthfulqa_docs(n: int) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        choices = [_phrase(i + k, 2 + k) + "." for k in range(3 + i % 2)]
        labels = [1] * (1 + i % 2) + [0] * (len(choices) - 1 - i % 2)
        docs.append(
            {
                "question": f"What {_phrase(i, 3)}?",
                "mc1_targets": {"choices": choices, "labels": [1] + [0] * (len(choices) - 1)},
                "mc2_targets": {"choices": choices, "labels": labels},
            }
        )
    return docs


def winogrande_docs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "sentence": f"The {WORDS[i % 9]} liked the {WORDS[(i + 4) % 9]} as _ {_phrase(i, 3)}.",
            "option1": WORDS[i % 9],
            "option2": WORDS[(i + 4) % 9],
            "answer": str(1 + i % 2),
        }
        for i in range(n)
    ]


def mmlu_docs(subject: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "question": f"In {subject}, {_phrase(i, 4)}?",
            "subject": subject,
            "choices": [_phrase(i + k, 2) for k in range(4)],
            "answer": (i + len(subject)) % 4,
        }
        for i in range(n)
    ]


def gsm8k_docs(n: int, offset: int = 0) -> list[dict[str, str]]:
    return [
        {
            "question": f"Tom has {i + offset} apples and buys {2 * i + 1}. How many?",
            "answer": f"{i + offset}+{2 * i + 1}={3 * i + 1 + offset}\n#### {3 * i + 1 + offset}",
        }
        for i in range(n)
    ]


def wikitext_docs(n: int) -> list[dict[str, str]]:
    return [
        {"page": f" = Title {i} = \n {_phrase(i, 12)} @-@ {_phrase(i + 2, 6)} . \n"}
        for i in range(n)
    ]


def write_replicas(root: Path, n: int = 4) -> dict[str, Path]:
    """Replicas of hellaswag, arc_challenge, truthfulqa_mc2, winogrande, gsm8k and wikitext
    (override YAMLs under root/tasks), keyed by the task names they define (`<name>_local`)."""
    made = {}
    src = _copy_family("hellaswag", root) / "hellaswag.yaml"
    made["hellaswag_local"] = _override(
        root, src, "hellaswag_local", {"train": hellaswag_docs(2), "validation": hellaswag_docs(n)}
    )
    src = _copy_family("arc", root) / "arc_challenge.yaml"
    splits = {"train": arc_docs(2), "validation": arc_docs(2), "test": arc_docs(n)}
    made["arc_challenge_local"] = _override(root, src, "arc_challenge_local", splits)
    src = _copy_family("truthfulqa", root) / "truthfulqa_mc2.yaml"
    splits = {"validation": truthfulqa_docs(n)}
    made["truthfulqa_mc2_local"] = _override(root, src, "truthfulqa_mc2_local", splits)
    src = _copy_family("winogrande", root) / "default.yaml"
    splits = {"train": winogrande_docs(2), "validation": winogrande_docs(n)}
    made["winogrande_local"] = _override(root, src, "winogrande_local", splits)
    src = _copy_family("gsm8k", root) / "gsm8k.yaml"
    splits = {"train": gsm8k_docs(3, offset=50), "test": gsm8k_docs(n)}
    made["gsm8k_local"] = _override(
        root, src, "gsm8k_local", splits, num_fewshot=2, generation_kwargs=GSM8K_GENERATION
    )
    src = _copy_family("wikitext", root) / "wikitext.yaml"
    splits = {"train": wikitext_docs(1), "validation": wikitext_docs(1), "test": wikitext_docs(n)}
    made["wikitext_local"] = _override(root, src, "wikitext_local", splits)
    return made


GSM8K_GENERATION = {"until": ["Question:"], "do_sample": False, "max_gen_toks": 8}
MMLU_SUBJECTS = {"anatomy": "stem", "astronomy": "stem", "business_ethics": "other"}


def write_mmlu(
    root: Path, name: str = "mmlu_local", n: int = 3, weight_by_size: bool = True
) -> Path:
    """A replica of lm-eval's mmlu group over 3 subjects in 2 of its sub-groups, with lm-eval's
    real group files (the top group's member list cut to the sub-groups present, names prefixed
    with `name`, its weight_by_size set); returns the top group's YAML."""
    family = _copy_family("mmlu", root) / "default"
    tasks = root / "tasks"
    for subject, kind in MMLU_SUBJECTS.items():
        splits = {"test": mmlu_docs(subject, n + len(subject) % 3), "dev": mmlu_docs(subject, 2)}
        source = family / f"mmlu_{subject}.yaml"
        _override(root, source, f"{name}_{subject}", splits, tag=f"{name}_{kind}_tasks")
    for kind in sorted(set(MMLU_SUBJECTS.values())):
        group = yaml.safe_load((family / f"_mmlu_{kind}.yaml").read_text(encoding="utf-8"))
        group |= {"group": f"{name}_{kind}", "task": [f"{name}_{kind}_tasks"]}
        (tasks / f"_{name}_{kind}.yaml").write_text(yaml.safe_dump(group), encoding="utf-8")
    top = yaml.safe_load((family / "_mmlu.yaml").read_text(encoding="utf-8"))
    top["group"] = name
    top["task"] = [f"{name}_{k}" for k in sorted(set(MMLU_SUBJECTS.values()))]
    for agg in top["aggregate_metric_list"]:
        agg["weight_by_size"] = weight_by_size
    path = tasks / f"_{name}.yaml"
    path.write_text(yaml.safe_dump(top), encoding="utf-8")
    return path


def write_cloze(root: Path, name: str = "cloze_local") -> Path:
    """A cloze task with an empty target delimiter whose choices can merge with the context's
    last token (the tiny tokenizer encodes "bl" + "ue" as one token: no continuation token)."""
    rows = [{"text": "Is the sky bl", "choices": ["ue", "ack"], "label": 0}] + [
        {"text": f"The {w} is", "choices": [" red", " blue egg"], "label": i % 2}
        for i, w in enumerate(WORDS[:3])
    ]
    data = write_jsonl(root / "data" / f"{name}.jsonl", rows)
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{text}}",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "label",
        "target_delimiter": "",
        "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}],
    }
    path = root / "tasks" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
