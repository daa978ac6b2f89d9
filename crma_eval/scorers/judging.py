"""What every judge scorer shares: the prompt, the strict verdict format and the verdict cache.

A judge (an OpenAI-compatible endpoint, `judge`, or a local model through the engine,
`judge_local`) is asked with the same prompt template and must answer with one JSON object
`{"verdict": "correct" | "incorrect", "reason": "..."}`; any other reply is an abstention (value
None, counted and reported), never a silent "incorrect". Verdicts are cached on disk, keyed by the
judge's identity (`cache_identity`), the prompt-template hash, question, reference and prediction,
and asked once per distinct (question, reference, prediction).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crma_eval.scorers import Item, Scorer, Verdict
from crma_eval.store import write_json_atomic

DEFAULT_PROMPT = """You are grading an answer to a question against a reference answer.
Judge whether the answer is correct: it must agree with the reference in meaning; extra
explanation is fine, contradictions or missing key facts are not.

Question: {question}
Reference answer: {reference}
Answer to grade: {prediction}

Reply with exactly one JSON object and nothing else:
{"verdict": "correct" | "incorrect", "reason": "<one sentence>"}"""
VERDICTS = {"correct": 1.0, "incorrect": 0.0}


def parse_verdict(content: str | None) -> Verdict:
    """1.0 / 0.0 from a strict JSON verdict; None ("malformed reply") for anything else."""
    try:
        obj = json.loads((content or "").strip())
    except json.JSONDecodeError:
        return Verdict(None, "malformed reply: not JSON")
    if not isinstance(obj, dict) or obj.get("verdict") not in VERDICTS:
        return Verdict(None, "malformed reply: no verdict correct/incorrect")
    reason = obj.get("reason")
    return Verdict(VERDICTS[obj["verdict"]], reason if isinstance(reason, str) else None)


def cache_root(cache_dir: Path | None) -> Path:
    """The verdict cache: cache_dir, else $CRMA_EVAL_CACHE/judge, else ~/.cache/crma_eval/judge."""
    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("CRMA_EVAL_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "crma_eval") / "judge"


class CachedJudge(Scorer):
    """Base of judge scorers: prompt rendering, verdict cache, one question per distinct item.

    Subclasses set `template` and `cache_dir`, and implement `cache_identity` (what identifies
    the judge's answers) and `ask` (verdicts on distinct uncached items, each with whether it may
    be cached: replies may, failed requests may not). Counters: `requests` (items asked),
    `cache_hits` (items answered from the cache).
    """

    def __init__(self, options: Mapping[str, Any] | None, template: str | None) -> None:
        super().__init__(options)
        self.template = template or DEFAULT_PROMPT
        self.prompt_sha256 = hashlib.sha256(self.template.encode("utf-8")).hexdigest()
        self.cache_dir: Path | None = None
        self.requests = 0
        self.cache_hits = 0

    def identity(self) -> dict[str, Any]:
        """Name, class, judge model and revision (options `model`, `revision`), prompt hash."""
        return {
            **super().identity(),
            "model": self.options.get("model"),
            "revision": self.options.get("revision"),
            "prompt_sha256": self.prompt_sha256,
        }

    def cache_identity(self) -> list[Any]:
        """JSON-able values identifying the judge's answers (part of every cache key)."""
        raise NotImplementedError

    def ask(self, items: Sequence[Item]) -> list[tuple[Verdict, bool]]:
        """Verdicts on `items` (distinct, uncached), each with whether to cache it."""
        raise NotImplementedError

    def prompt(self, item: Item) -> str:
        """The judge prompt of one item (placeholders replaced literally, no format syntax)."""
        return (
            self.template.replace("{question}", item.question)
            .replace("{reference}", item.reference)
            .replace("{prediction}", item.prediction)
        )

    def cache_path(self, item: Item) -> Path:
        """Where the verdict on `item` is cached."""
        key = json.dumps(
            [*self.cache_identity(), self.prompt_sha256, item.question, item.reference,
             item.prediction],
            ensure_ascii=False,
        )  # fmt: skip
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return cache_root(self.cache_dir) / digest[:2] / f"{digest}.json"

    def _cached(self, item: Item) -> Verdict | None:
        try:
            obj = json.loads(self.cache_path(item).read_text(encoding="utf-8"))
            return Verdict(obj["value"], obj.get("note"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def score(self, items: Sequence[Item]) -> list[Verdict]:
        """Cached verdicts, and the rest asked once per distinct item (then cached)."""
        out: list[Verdict | None] = [self._cached(item) for item in items]
        self.cache_hits += sum(v is not None for v in out)
        todo: dict[Path, list[int]] = {}
        for i, verdict in enumerate(out):
            if verdict is None:
                todo.setdefault(self.cache_path(items[i]), []).append(i)
        if todo:
            answers = self.ask([items[ix[0]] for ix in todo.values()])
            self.requests += len(todo)
            for (path, ix), (verdict, keep) in zip(todo.items(), answers, strict=True):
                if keep:
                    write_json_atomic(path, {"value": verdict.value, "note": verdict.note})
                for i in ix:
                    out[i] = verdict
        return [v for v in out if v is not None]
