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

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from crma_eval.errors import InputError
from crma_eval.scorers import Item, Verdict
from crma_eval.scorers.config import JudgeConfig
from crma_eval.scorers.judging import CachedJudge, parse_verdict

__all__ = ["JudgeScorer", "parse_verdict"]
NO_KEY = "not-needed"  # what the client sends when no api_key_env is configured (local servers)


class JudgeScorer(CachedJudge):
    """Model-graded correctness through an OpenAI-compatible endpoint (options: JudgeConfig)."""

    name: ClassVar[str] = "judge"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        if not options:
            raise InputError("scorer 'judge' needs a scorers.judge section", field="scorers.judge")
        self.config = JudgeConfig.model_validate(dict(options))
        super().__init__(options, self.config.prompt_template)
        self.cache_dir = self.config.cache_dir

    def identity(self) -> dict[str, Any]:
        """Judge endpoint, model, revision, prompt hash and request settings (no key)."""
        c = self.config
        return {
            **super().identity(),
            "base_url": c.base_url,
            "temperature": 0,
            "json_mode": c.json_mode,
            "max_tokens": c.max_tokens,
            "api_key_env": c.api_key_env,
        }

    def cache_identity(self) -> list[Any]:
        """Judge model and revision."""
        return [self.config.model, self.config.revision]

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

    def _ask_one(self, client: Any, item: Item) -> tuple[Verdict, bool]:
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
            return Verdict(None, f"request failed: {type(exc).__name__}"), False
        choices = getattr(reply, "choices", None) or []
        content = choices[0].message.content if choices else None
        return parse_verdict(content), True

    def ask(self, items: Sequence[Item]) -> list[tuple[Verdict, bool]]:
        """Chat-completion verdicts, max_concurrency requests at a time (failures not cached)."""
        client = self._client()
        with ThreadPoolExecutor(max_workers=self.config.max_concurrency) as pool:
            return list(pool.map(lambda item: self._ask_one(client, item), items))
