"""The `scorers:` section of a run config (or of the file given to `crma-eval rescore --config`).

scorers:
  use: [exact, contains, numeric, token_f1, rouge_l]   # default scorers of every item
  by_answer_type: {number: [numeric, exact]}            # overrides `use` per answer_type
  by_domain: {law: [judge, token_f1]}                   # overrides both per domain
  primary: {text: contains, number: numeric}           # or one name; keys: domain/answer_type
  threshold: {token_f1: 0.5}                            # pass mark of graded scorers
  options: {my_scorer: {...}}                           # options of other scorers
  judge:
    base_url: http://127.0.0.1:8000/v1
    model: my-judge
    api_key_env: JUDGE_API_KEY                          # the variable's name, never its value
  judge_local:
    model: /models/my-judge                             # a folder, or a hub id already cached
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_USE = ["exact", "contains", "numeric", "token_f1", "rouge_l"]
DEFAULT_PRIMARY = {"text": "contains", "number": "numeric"}
DEFAULT_THRESHOLD = 0.5
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_NAME = re.compile(r"key|token|secret|passw|auth|sig|cred", re.IGNORECASE)


class JudgeConfig(BaseModel):
    """An OpenAI-compatible judge endpoint (vLLM, TGI, llama.cpp server, a hosted API)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(
        None, pattern=ENV_NAME, description="name of the variable holding the key (never the key)"
    )
    revision: str | None = Field(None, description="judge model revision (identity, cache key)")
    prompt_template: str | None = Field(
        None, description="with {question}, {reference}, {prediction}; default: DEFAULT_PROMPT"
    )
    max_concurrency: int = Field(4, ge=1)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0)
    max_tokens: int = Field(256, ge=1, le=1_000_000)
    json_mode: bool = Field(False, description="send response_format={'type': 'json_object'}")
    deadline_s: float = Field(
        300.0, gt=0, le=86_400, description="overall limit per request, retries included"
    )
    run_deadline_s: float = Field(
        3600.0, gt=0, le=7 * 86_400, description="overall limit of one scoring run's requests"
    )
    cache_dir: Path | None = Field(
        None, description="verdict cache [$CRMA_EVAL_CACHE/judge, else ~/.cache/crma_eval/judge]"
    )

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, url: str) -> str:
        """Refuse credentials inside the URL (they would be written to scoring.json and
        results.json): user:password@ or a key/token query parameter."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8000/v1")
        secret_query = [k for k, _ in parse_qsl(parts.query) if SECRET_NAME.search(k)]
        if parts.username or parts.password or secret_query:
            raise ValueError(
                "must not hold credentials (user:password@ or a key/token parameter); put the"
                " key in an environment variable and name it in api_key_env"
            )
        return url


class LocalJudgeConfig(BaseModel):
    """A Hugging Face judge model run locally through the engine (offline, no remote code)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, description="a model folder, or a hub id in the local cache")
    revision: str | None = Field(None, description="hub revision (branch, tag or commit)")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    device: str = "cpu"
    max_new_tokens: int = Field(128, ge=1)
    max_length: int = Field(2048, ge=8, description="prompt + answer tokens (longer prompts fail)")
    batch_size: int = Field(8, ge=1)
    prompt_template: str | None = Field(
        None, description="with {question}, {reference}, {prediction}; default: DEFAULT_PROMPT"
    )
    cache_dir: Path | None = Field(
        None, description="verdict cache [$CRMA_EVAL_CACHE/judge, else ~/.cache/crma_eval/judge]"
    )


class ScorersConfig(BaseModel):
    """Which scorers score which QA items, which one decides `correct`, and their options."""

    model_config = ConfigDict(extra="forbid")

    use: list[str] = Field(default_factory=lambda: list(DEFAULT_USE), min_length=1)
    by_answer_type: dict[Literal["text", "number"], list[str]] = Field(default_factory=dict)
    by_domain: dict[str, list[str]] = Field(default_factory=dict)
    primary: str | dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PRIMARY))
    threshold: dict[str, float] = Field(default_factory=dict)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    judge: JudgeConfig | None = None
    judge_local: LocalJudgeConfig | None = None

    def names_for(self, domain: str, answer_type: str) -> list[str]:
        """Scorers of an item: by_domain, else by_answer_type, else use (primary included)."""
        names = self.by_domain.get(domain) or self.by_answer_type.get(answer_type) or self.use  # type: ignore[call-overload]
        primary = self.primary_for(domain, answer_type)
        return list(dict.fromkeys([*names, primary]))

    def primary_for(self, domain: str, answer_type: str) -> str:
        """The primary scorer of an item: one name, or the mapping's domain, then answer_type."""
        if isinstance(self.primary, str):
            return self.primary
        fallback = fallback_for(answer_type)
        return self.primary.get(domain) or self.primary.get(answer_type) or fallback

    def threshold_for(self, name: str) -> float:
        """Pass mark of a graded scorer (default 0.5)."""
        return self.threshold.get(name, DEFAULT_THRESHOLD)

    def options_for(self, name: str) -> dict[str, Any]:
        """Options passed to scorer `name` (scorers.judge / scorers.judge_local for the judges)."""
        if name == "judge" and self.judge is not None:
            return self.judge.model_dump()
        if name == "judge_local" and self.judge_local is not None:
            return self.judge_local.model_dump()
        return self.options.get(name, {})


def fallback_for(answer_type: str) -> str:
    """Today's rule for an answer type (numeric for numbers, contains for text): used when the
    primary scorer abstains, so `correct` is never silently False."""
    return DEFAULT_PRIMARY.get(answer_type, DEFAULT_PRIMARY["text"])
