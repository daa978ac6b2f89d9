"""lm-eval's logged samples to bench records: one per document, metric and filter.

What a record says follows lm-eval's own scoring (lm_eval/api/task.py, `process_results`):
- multiple choice: `prediction` is the choice the record's metric picked (acc: highest
  log-likelihood; acc_norm: highest log-likelihood per character; acc_bytes: per byte) and
  `target` the gold choice's text (for tasks with several inputs, e.g. winogrande, the gold
  option: lm-eval's gold is `doc_to_text`, not the shared continuation);
- rolling log-likelihood (word_perplexity, byte_perplexity, bits_per_byte): lm-eval's per-document
  item is a (loglikelihood, words or bytes) pair; the record keeps the log-likelihood as `value`
  and the count as `weight`, so the analysis aggregates as lm-eval does (Σll / Σweight).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

# lm-eval's multiple-choice normalisations: metric -> length of a choice it divides by.
NORMALISED = {
    "acc_norm": lambda text: float(len(text)),
    "acc_bytes": lambda text: float(len(text.encode("utf-8"))),
}


def number(value: Any) -> float | None:
    """A finite float from a number (bools and numpy scalars included), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        try:
            result = float(value)
        except (TypeError, ValueError):
            return None
        return result if math.isfinite(result) else None
    return None


def weighted_item(value: Any) -> tuple[float, float] | None:
    """lm-eval's (loglikelihood, words or bytes) item of a rolling metric, else None."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        ll, count = number(value[0]), number(value[1])
        if ll is not None and count is not None and count > 0:
            return ll, count
    return None


def _choices(task: Any, doc: Mapping[str, Any]) -> list[str] | None:
    if task is None or getattr(task, "OUTPUT_TYPE", None) != "multiple_choice":
        return None
    try:
        choices = task.doc_to_choice(doc)
    except Exception:  # a task whose choices cannot be rebuilt keeps lm-eval's target
        return None
    return [str(c) for c in choices] if isinstance(choices, list) else None


def gold_indices(task: Any, doc: Mapping[str, Any], choices: list[str]) -> list[int]:
    """The gold choice indices as lm-eval computes them (`doc_to_text` for multiple inputs)."""
    gold = task.doc_to_text(doc) if getattr(task, "multiple_input", False) else None
    if gold is None:
        gold = task.doc_to_target(doc)
    golds = gold if isinstance(gold, list) else [gold]
    out = []
    for g in golds:
        if isinstance(g, str):
            g = choices.index(g) if g in choices else (int(g) if g.isdigit() else -1)
        if isinstance(g, int) and 0 <= g < len(choices):
            out.append(g)
    return out


def chosen_index(metric: str, lls: list[float], choices: list[str]) -> int:
    """The choice a multiple-choice metric picks (lm-eval: argmax of ll, or ll / length)."""
    scores = np.asarray(lls[: len(choices)], float)
    norm = NORMALISED.get(metric)
    if norm is not None:
        scores = scores / np.array([norm(c) for c in choices])
    return int(np.argmax(scores))


def _likelihoods(filtered: list[Any]) -> list[float] | None:
    if filtered and all(
        isinstance(x, (list, tuple)) and x and number(x[0]) is not None for x in filtered
    ):
        return [float(x[0]) for x in filtered]
    return None


def _prediction(filtered: list[Any]) -> str | None:
    """Without the task: a generation, or the index of the most likely choice."""
    lls = _likelihoods(filtered)
    if lls is not None and len(lls) > 1:
        return str(lls.index(max(lls)))
    if len(filtered) == 1 and isinstance(filtered[0], str):
        return filtered[0]
    return None


def _response(sample: Mapping[str, Any]) -> str | None:
    """The raw generated text of a generation task (None for likelihood tasks)."""
    resps = sample.get("resps") or []
    first = resps[0] if resps else None
    text = first[0] if isinstance(first, list) and first else first
    return text if isinstance(text, str) else None


def _texts(sample: Mapping[str, Any], task: Any) -> tuple[Callable[[str], str | None], Any]:
    """The prediction as a function of the metric, and the target shown."""
    doc = sample.get("doc") or {}
    filtered = list(sample.get("filtered_resps") or [])
    choices = _choices(task, doc)
    lls = _likelihoods(filtered)
    target = None if sample.get("target") is None else str(sample["target"])
    if choices is None or lls is None or len(lls) < len(choices):
        fixed = _prediction(filtered)
        return (lambda _metric: fixed), target
    gold = gold_indices(task, doc, choices)
    if gold:
        target = " | ".join(choices[g] for g in gold)
    return (lambda metric: choices[chosen_index(metric, lls, choices)]), target


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def unscored_reason(sample: Mapping[str, Any]) -> str | None:
    """Why a document could not be scored (a log-likelihood that is not a number: its
    continuation is longer than the model's window), else None."""
    for resp in sample.get("filtered_resps") or []:
        if isinstance(resp, (list, tuple)) and resp and _is_nan(resp[0]):
            return "a continuation is longer than the model's context window"
    return None


def unscored_documents(
    samples: Mapping[str, list[dict[str, Any]]], label: str, arm: str, checkpoint: str | None
) -> list[dict[str, Any]]:
    """The documents `sample_records` leaves out, one `bench_unscored` record each: task, arm,
    subtask, doc id, reason, checkpoint (also logged to RUN_DIR/logs/bench-unscored.jsonl)."""
    rows: list[dict[str, Any]] = []
    for subtask, logged in samples.items():
        for sample in logged:
            reason = unscored_reason(sample)
            if reason is not None:
                rows.append({"kind": "bench_unscored", "task": label, "arm": arm})
                rows[-1] |= {"subtask": subtask, "doc_id": str(sample["doc_id"])}
                rows[-1] |= {"reason": reason, "checkpoint": checkpoint}
    return list({(r["subtask"], r["doc_id"]): r for r in rows}.values())


def sample_records(
    samples: Mapping[str, list[dict[str, Any]]],
    label: str,
    arm: str,
    checkpoint: str | None,
    tasks: Mapping[str, Any] | None = None,
    groups: Mapping[str, list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """bench records (one per document, metric and filter) from lm-eval's logged samples.

    tasks: lm-eval task objects by name (for choices and gold); groups: per subtask, the groups
    that contain it, outermost first, each {name, aggregate: aggregate_metric_list} (stored as
    `groups` on the records of a group's subtasks, lmeval.group_memberships).
    """
    records = []
    for subtask, logged in samples.items():
        task = (tasks or {}).get(subtask)
        better = higher_is_better(task)
        for sample in logged:
            if unscored_reason(sample) is not None:
                continue
            doc_id = str(sample["doc_id"])
            predict, target = _texts(sample, task)
            base: dict[str, Any] = {
                "kind": "bench",
                "task": label,
                "arm": arm,
                "doc_id": doc_id if subtask == label else f"{subtask}/{doc_id}",
                "filter": sample.get("filter"),
                "doc_hash": sample.get("doc_hash"),
                "target": target,
                "subtask": subtask,
                "checkpoint": checkpoint,
            }
            if groups and groups.get(subtask):
                base["groups"] = list(groups[subtask])
            text, doc = _response(sample), sample.get("doc") or {}
            if text is not None:
                base["response"] = text
                if isinstance(doc.get("question"), str):
                    base["question"] = doc["question"]
            for metric in sample.get("metrics", []):
                found = _metric_records(base, metric, sample.get(metric), predict)
                if isinstance(better.get(metric), bool):
                    found = [r | {"higher_is_better": better[metric]} for r in found]
                records += found
    return records


def higher_is_better(task: Any) -> dict[str, Any]:
    """lm-eval's own direction of each task metric (`Task.higher_is_better()`), {} without one."""
    try:
        found = task.higher_is_better() if task is not None else None
    except Exception:  # a task without the method or its config: direction unknown
        return {}
    return dict(found) if isinstance(found, dict) else {}


def _metric_records(
    base: dict[str, Any], metric: str, raw: Any, predict: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    item = weighted_item(raw)
    if item is not None:
        return [{**base, "prediction": None, "metric": metric, "value": item[0], "weight": item[1]}]
    value = number(raw)
    if value is None:
        return []
    return [{**base, "prediction": predict(metric), "metric": metric, "value": value}]
