"""The `judge` scorer: a model grades each answer through an OpenAI-compatible chat endpoint.

Requests go through the official `openai` client (chat completions, temperature 0) with its
timeout and its retries with exponential backoff (429, 5xx, timeouts and connection errors; a
Retry-After header is honoured), at most `max_concurrency` requests at a time. The judge must
reply with one JSON object `{"verdict": "correct" | "incorrect", "reason": "..."}`; any other reply
is an abstention (value None, counted and reported), never a silent "incorrect".

Verdicts are cached on disk, keyed by judge model and revision, prompt-template hash, question,
reference and prediction; replies (including malformed ones, which are deterministic at
temperature 0) are cached, failed requests are not.

Hostile servers: a reply of any shape (an invalid or empty body, `choices`/`content` of the wrong
type) is an abstention with its reason, never a crash; `deadline_s` bounds each request overall
(a server dripping one byte a second included) and `run_deadline_s` the whole run; the API key and
bearer tokens are cut from every reason kept; base_url with credentials is refused. The API key
is read from the environment variable named by `api_key_env` and is never written anywhere.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from crma_eval.errors import InputError
from crma_eval.scorers import Item, Verdict
from crma_eval.scorers.config import JudgeConfig
from crma_eval.scorers.judging import CachedJudge, parse_verdict

__all__ = ["JudgeScorer", "parse_verdict"]
POLL_S = 0.05  # how often deadlines are checked while waiting for verdicts
BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
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
        """Everything that changes a verdict: endpoint, model, revision, max_tokens, json_mode."""
        c = self.config
        return ["openai-chat", c.base_url.rstrip("/"), c.model, c.revision, c.max_tokens,
                c.json_mode, 0]  # fmt: skip

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
            timeout=min(c.timeout_s, c.deadline_s),
            max_retries=c.max_retries,
        )

    def _redact(self, verdict: Verdict) -> Verdict:
        """The verdict with the API key and any bearer token cut out of its note."""
        if verdict.note is None:
            return verdict
        note = BEARER.sub("[redacted]", verdict.note)
        key = self._api_key()
        if key != NO_KEY:
            note = note.replace(key, "[redacted]")
        return Verdict(verdict.value, note, verdict.flag)

    def _ask_one(self, client: Any, item: Item) -> tuple[Verdict, bool]:
        import openai

        extra: dict[str, Any] = {}
        if self.config.json_mode:
            extra["response_format"] = {"type": "json_object"}
        prompt = self.prompt(item)
        try:
            reply = client.chat.completions.create(
                model=self.config.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
                max_tokens=self.config.max_tokens,
                **extra,
            )
            content, problem = reply_content(reply)
        except openai.APIError as exc:
            return Verdict(None, f"request failed: {type(exc).__name__}"), False
        except Exception as exc:  # any reply the client cannot read abstains
            return Verdict(None, f"malformed reply: {type(exc).__name__}"), False
        if problem is not None:
            return Verdict(None, problem), False
        return self._redact(parse_verdict(content)), True

    def ask(self, items: Sequence[Item]) -> list[tuple[Verdict, bool]]:
        """Verdicts of `items` in order (see ask_each)."""
        out: list[tuple[Verdict, bool]] = [(Verdict(None, "no answer"), False)] * len(items)

        def keep(i: int, verdict: Verdict, cache: bool) -> None:
            out[i] = (verdict, cache)

        self.ask_each(items, keep)
        return out

    def ask_each(self, items: Sequence[Item], answer: Callable[[int, Verdict, bool], None]) -> None:
        """Ask max_concurrency at a time on daemon threads, reporting each verdict as it arrives.

        A request still running after `deadline_s` abstains ("request deadline exceeded", not
        cached) and its thread is abandoned (a replacement starts); once `run_deadline_s` has
        passed, every unanswered item abstains the same way. An interrupt stops handing out work.
        """
        c = self.config
        pool = _Pool(self, self._client(), items)
        pool.start(min(c.max_concurrency, len(items)))
        run_end = time.monotonic() + c.run_deadline_s
        try:
            while len(pool.done) < len(items):
                if time.monotonic() >= run_end:
                    for i in pool.unanswered():
                        answer(i, Verdict(None, f"run deadline ({c.run_deadline_s:g} s) exceeded"),
                               False)  # fmt: skip
                    return
                arrived = pool.next(timeout=POLL_S)
                if arrived is not None:
                    answer(*arrived)
                    continue
                for i in pool.overdue(c.deadline_s):
                    answer(i, Verdict(None, f"request deadline ({c.deadline_s:g} s) exceeded"),
                           False)  # fmt: skip
        finally:
            pool.stop()


class _Pool:
    """Daemon worker threads asking the judge; results come back through a queue."""

    def __init__(self, scorer: JudgeScorer, client: Any, items: Sequence[Item]) -> None:
        self.scorer, self.client, self.items = scorer, client, items
        self.jobs: queue.Queue[int] = queue.Queue()
        for i in range(len(items)):
            self.jobs.put(i)
        self.results: queue.Queue[tuple[int, Verdict, bool]] = queue.Queue()
        self.started: dict[int, float] = {}
        self.done: set[int] = set()
        self.lock = threading.Lock()

    def _work(self) -> None:
        while True:
            try:
                i = self.jobs.get_nowait()
            except queue.Empty:
                return
            with self.lock:
                self.started[i] = time.monotonic()
            self.results.put((i, *self.scorer._ask_one(self.client, self.items[i])))

    def start(self, n: int) -> None:
        for _ in range(n):
            threading.Thread(target=self._work, daemon=True, name="crma-judge").start()

    def next(self, timeout: float) -> tuple[int, Verdict, bool] | None:
        """The next verdict not already given up on, or None after `timeout` seconds."""
        try:
            i, verdict, keep = self.results.get(timeout=timeout)
        except queue.Empty:
            return None
        if i in self.done:  # arrived after its deadline: already reported as an abstention
            return None
        self.done.add(i)
        return i, verdict, keep

    def overdue(self, deadline_s: float) -> list[int]:
        """Items running longer than `deadline_s` (marked done; a fresh worker replaces each)."""
        now = time.monotonic()
        with self.lock:
            late = [i for i, t in self.started.items() if now - t > deadline_s]
        late = [i for i in late if i not in self.done]
        self.done.update(late)
        self.start(len(late))
        return late

    def unanswered(self) -> list[int]:
        return [i for i in range(len(self.items)) if i not in self.done]

    def stop(self) -> None:
        """Hand out no more work (threads still asking finish or are abandoned: daemons)."""
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                return


def reply_content(reply: Any) -> tuple[Any, str | None]:
    """The first choice's message content, or (None, why) for a reply of another shape."""
    choices = getattr(reply, "choices", None)
    if not isinstance(choices, list) or not choices:
        return None, "malformed reply: no choices"
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else getattr(first, "message", None)
    if isinstance(message, dict):
        return message.get("content"), None
    if message is None or not hasattr(message, "content"):
        return None, "malformed reply: no message"
    return message.content, None
