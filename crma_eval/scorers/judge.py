"""The `judge` scorer: a model grades each answer through an OpenAI-compatible chat endpoint.

Requests go through the official `openai` client (chat completions, temperature 0) with its
timeout and its retries with exponential backoff (429, 5xx, timeouts and connection errors; a
Retry-After header is honoured), at most `max_concurrency` requests at a time. The judge must
reply with one JSON object `{"verdict": "correct" | "incorrect", "reason": "..."}`; any other reply
is an abstention (value None, counted and reported), never a silent "incorrect".

Verdicts are cached on disk, keyed by judge model and revision, prompt-template hash, question,
reference and prediction; replies (including malformed ones, which are deterministic at
temperature 0) are cached, failed requests are not. The API key is read from the environment
variable named by `api_key_env` and is never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from crma_eval.errors import InputError
from crma_eval.scorers import Item, Scorer, Verdict
from crma_eval.scorers.config import JudgeConfig
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
NO_KEY = "not-needed"  # what the client sends when no api_key_env is configured (local servers)


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


def cache_root(config: JudgeConfig) -> Path:
    """The verdict cache: cache_dir, else $CRMA_EVAL_CACHE/judge, else ~/.cache/crma_eval/judge."""
    if config.cache_dir is not None:
        return Path(config.cache_dir)
    base = os.environ.get("CRMA_EVAL_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "crma_eval") / "judge"


class JudgeScorer(Scorer):
    """Model-graded correctness through an OpenAI-compatible endpoint (options: JudgeConfig)."""

    name: ClassVar[str] = "judge"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        if not options:
            raise InputError("scorer 'judge' needs a scorers.judge section", field="scorers.judge")
        super().__init__(options)
        self.config = JudgeConfig.model_validate(dict(options))
        self.template = self.config.prompt_template or DEFAULT_PROMPT
        self.prompt_sha256 = hashlib.sha256(self.template.encode("utf-8")).hexdigest()
        self.requests = 0
        self.cache_hits = 0

    def identity(self) -> dict[str, Any]:
        """Judge endpoint, model, revision, prompt hash and request settings (no key)."""
        c = self.config
        return {
            **super().identity(),
            "base_url": c.base_url,
            "model": c.model,
            "revision": c.revision,
            "prompt_sha256": self.prompt_sha256,
            "temperature": 0,
            "json_mode": c.json_mode,
            "max_tokens": c.max_tokens,
            "api_key_env": c.api_key_env,
        }

    def _api_key(self) -> str:
        name = self.config.api_key_env
        if name is None:
            return NO_KEY
        key = os.environ.get(name)
        if not key:
            raise InputError(
                f"environment variable {name} (the judge's API key) is not set",
                field="scorers.judge.api_key_env",
            )
        return key

    def _client(self) -> Any:
        import openai

        c = self.config
        return openai.OpenAI(
            base_url=c.base_url,
            api_key=self._api_key(),
            timeout=c.timeout_s,
            max_retries=c.max_retries,
        )

    def prompt(self, item: Item) -> str:
        """The judge prompt of one item (placeholders replaced literally, no format syntax)."""
        return (
            self.template.replace("{question}", item.question)
            .replace("{reference}", item.reference)
            .replace("{prediction}", item.prediction)
        )

    def cache_path(self, item: Item) -> Path:
        """Where the verdict on `item` is cached."""
        c = self.config
        key = json.dumps(
            [c.model, c.revision, self.prompt_sha256, item.question, item.reference,
             item.prediction],
            ensure_ascii=False,
        )  # fmt: skip
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return cache_root(c) / digest[:2] / f"{digest}.json"

    def _ask(self, client: Any, item: Item) -> Verdict:
        import openai

        extra: dict[str, Any] = {}
        if self.config.json_mode:
            extra["response_format"] = {"type": "json_object"}
        try:
            reply = client.chat.completions.create(
                model=self.config.model,
                messages=[{"role": "user", "content": self.prompt(item)}],
                temperature=0,
                max_tokens=self.config.max_tokens,
                **extra,
            )
        except openai.APIError as exc:
            return Verdict(None, f"request failed: {type(exc).__name__}")
        choices = getattr(reply, "choices", None) or []
        content = choices[0].message.content if choices else None
        verdict = parse_verdict(content)
        write_json_atomic(self.cache_path(item), {"value": verdict.value, "note": verdict.note})
        return verdict

    def _cached(self, item: Item) -> Verdict | None:
        path = self.cache_path(item)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            return Verdict(obj["value"], obj.get("note"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def score(self, items: Sequence[Item]) -> list[Verdict]:
        """Cached verdicts, and the rest asked concurrently (max_concurrency at a time)."""
        out: list[Verdict | None] = [self._cached(item) for item in items]
        self.cache_hits += sum(v is not None for v in out)
        todo: dict[Path, list[int]] = {}  # one request per distinct (question, reference, answer)
        for i, verdict in enumerate(out):
            if verdict is None:
                todo.setdefault(self.cache_path(items[i]), []).append(i)
        if todo:
            client = self._client()
            with ThreadPoolExecutor(max_workers=self.config.max_concurrency) as pool:
                answers = list(pool.map(lambda ix: self._ask(client, items[ix[0]]), todo.values()))
            self.requests += len(todo)
            for ix, verdict in zip(todo.values(), answers, strict=True):
                for i in ix:
                    out[i] = verdict
        return [v for v in out if v is not None]
