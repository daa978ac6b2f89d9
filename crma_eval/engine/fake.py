"""A fake engine session: deterministic generations, losses and router embeddings without torch.

Like inspect_ai's `mockllm` model or httpx's mock transport, it stands in for
`crma_eval.engine.EngineSession` wherever a test (or a dry run) exercises the collect stage, the
ledger, resume, shards or executors rather than a model. Every output is a pure function of the
input text and of what is active (checkpoint id, adapter domain, CRMA on/off), so two runs, two
processes or two Ray workers give the same records. `calls` logs every model call, so a test can
assert that a resumed run computed nothing again.

Select it with `CollectContext.from_config(..., engine="fake")` (entry point `fake` of group
crma_eval.engines).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from crma_eval.errors import InputError


@dataclass(frozen=True)
class FakeActive:
    """What the fake session currently runs: checkpoint id, adapter domain, CRMA on or off."""

    checkpoint: str | None
    domain: str | None
    crma: bool


def _unit_interval(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts` (SHA-256 of their text)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FakeSession:
    """The engine session's interface (crma_eval.api.Session) with made-up, repeatable outputs.

    base_model and engine are kept for display only (nothing is loaded). answers: prompt
    substring -> answer; a prompt containing a key is answered with its value whenever an adapter
    is active (the base model alone answers "unknown"), other prompts get "answer <digit>".
    embed_dim: length of the router embeddings. Losses are in [1, 3) nats per token, lower with
    CRMA on; n_tokens counts whitespace-separated words.
    """

    def __init__(
        self,
        base_model: str = "fake",
        engine: Any = None,
        answers: Mapping[str, str] | None = None,
        embed_dim: int = 8,
    ) -> None:
        self.base_model = base_model
        self.engine = engine
        self.answers = dict(answers or {})
        self.embed_dim = embed_dim
        self.active = FakeActive(None, None, False)
        self.calls: list[tuple[str, FakeActive, int]] = []

    @property
    def stats(self) -> dict[str, int]:
        """How many model calls were made (the real session counts adapter and CRMA loads)."""
        return {"calls": len(self.calls)}

    def activate(self, checkpoint: Any, domain: str | None, crma: bool) -> FakeActive:
        """Use the adapter of `domain` and, if `crma`, the checkpoint's CRMA (as EngineSession:
        CRMA on a checkpoint without a `crma:` block is an InputError)."""
        if checkpoint is None and (domain is not None or crma):
            raise ValueError("the base model alone has no adapter or CRMA to activate")
        if crma and checkpoint.manifest.crma is None:
            raise InputError(f"checkpoint {checkpoint.id} has no crma: block")
        ck_id = checkpoint.id if checkpoint is not None else None
        self.active = FakeActive(ck_id, domain, crma)
        return self.active

    @contextmanager
    def base_only(self) -> Iterator[None]:
        """Within the block the model is the bare base."""
        previous, self.active = self.active, FakeActive(None, None, False)
        try:
            yield
        finally:
            self.active = previous

    def holdout_loss(self, texts: list[str]) -> tuple[float, int]:
        """A loss in [1, 3) fixed by the texts and what is active (CRMA on: 10 % lower), and the
        number of words."""
        self.calls.append(("holdout_loss", self.active, len(texts)))
        a = self.active
        loss = 1.0 + 2.0 * _unit_interval("loss", a.checkpoint, a.domain, *texts)
        return (loss * 0.9 if a.crma else loss), max(1, sum(len(t.split()) for t in texts))

    def generate(self, prompts: list[str], max_new_tokens: int, stop: list[str]) -> list[str]:
        """One answer per prompt (see the class), at most `max_new_tokens` words, cut at the
        first stop string."""
        self.calls.append(("generate", self.active, len(prompts)))
        return [self._answer(p, max_new_tokens, stop) for p in prompts]

    def _answer(self, prompt: str, max_new_tokens: int, stop: list[str]) -> str:
        known = next((v for k, v in self.answers.items() if k in prompt), None)
        if known is not None:
            text = known if self.active.domain is not None else "unknown"
        else:
            a = self.active
            text = f"answer {int(10 * _unit_interval('gen', a.checkpoint, a.domain, prompt))}"
        text = " ".join(text.split(" ")[:max_new_tokens])
        for s in stop:
            text = text.split(s, 1)[0] if s else text
        return text

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row of `embed_dim` numbers per text, fixed by the text alone."""
        self.calls.append(("embed", self.active, len(texts)))
        rows = [[_unit_interval("embed", t, i) - 0.5 for i in range(self.embed_dim)] for t in texts]
        out = np.asarray(rows, dtype=np.float64).reshape(len(texts), self.embed_dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)
