"""The `judge_local` scorer: a local Hugging Face model grades each answer through the engine.

Same prompt template and strict verdict format as the OpenAI-compatible `judge`
(`crma_eval.scorers.judging`): the prompt text is continued greedily (no sampling, so no
temperature) by `EngineSession.generate` with no stop string (the model's end-of-sequence token or
`max_new_tokens` ends it), and the whole continuation must be one JSON object
`{"verdict": "correct" | "incorrect", "reason": "..."}`; anything else is an abstention.

Offline only: `model` is a folder, or a hub id already in the local Hugging Face cache (at
`revision`); nothing is downloaded and `trust_remote_code` is off. The judge's identity is the
content hash of the model folder (`base_model_fingerprint`) with the prompt-template hash; the
model is loaded only when some verdict is not in the cache.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from crma_eval.errors import InputError
from crma_eval.scorers import Item, Verdict
from crma_eval.scorers.config import LocalJudgeConfig
from crma_eval.scorers.judging import CachedJudge, parse_verdict

FIELD = "scorers.judge_local"
TOO_LONG = "prompt too long: raise max_length"


def resolve_model(model: str, revision: str | None) -> Path:
    """The local folder of `model`: itself if a folder, else its snapshot in the HF cache.

    Raises InputError if it is neither (offline only), or if a revision is given for a folder.
    """
    path = Path(model)
    if path.is_dir():
        if revision is not None:
            raise InputError(
                "revision applies to a hub id, not a folder", field=f"{FIELD}.revision"
            )
        return path.resolve()
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model, revision=revision, local_files_only=True))
    except (OSError, ValueError):
        raise InputError(
            f"judge model {model!r} is neither a folder nor in the local Hugging Face cache "
            "(offline only: download it first, e.g. `hf download ID`)",
            field=f"{FIELD}.model",
        ) from None


class LocalJudgeScorer(CachedJudge):
    """Model-graded correctness by a local causal LM (options: LocalJudgeConfig)."""

    name: ClassVar[str] = "judge_local"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        if not options:
            raise InputError(
                "scorer 'judge_local' needs a scorers.judge_local section", field=FIELD
            )
        self.config = LocalJudgeConfig.model_validate(dict(options))
        super().__init__(options, self.config.prompt_template)
        self.cache_dir = self.config.cache_dir
        self.session: Any = None  # EngineSession, loaded on the first uncached verdict

    @cached_property
    def path(self) -> Path:
        """The judge model's local folder."""
        return resolve_model(self.config.model, self.config.revision)

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the judge model (`local:<sha256>` of its weight/config/tokenizer)."""
        from crma_eval.checkpoint.basemodel import base_model_fingerprint

        return base_model_fingerprint(self.path)

    def identity(self) -> dict[str, Any]:
        """Judge model, revision, content fingerprint, prompt hash and decoding settings."""
        c = self.config
        return {
            **super().identity(),
            "fingerprint": self.fingerprint,
            "decoding": "greedy",
            "dtype": c.dtype,
            "max_new_tokens": c.max_new_tokens,
            "trust_remote_code": False,
        }

    def cache_identity(self) -> list[Any]:
        """Model content, dtype and answer length (what changes the greedy continuation)."""
        c = self.config
        return ["engine", self.fingerprint, c.dtype, c.max_new_tokens]

    def _session(self) -> Any:
        if self.session is None:
            from crma_eval.config import EngineConfig
            from crma_eval.engine.session import EngineSession

            c = self.config
            engine = EngineConfig(
                device=c.device,
                dtype=c.dtype,
                batch_size=c.batch_size,
                max_length=c.max_length,
                trust_remote_code=False,
            )
            self.session = EngineSession(str(self.path), engine)
        return self.session

    def ask(self, items: Sequence[Item]) -> list[tuple[Verdict, bool]]:
        """Greedy verdicts; a prompt that does not fit max_length abstains (not cached)."""
        from crma_eval.engine.batching import tokenize

        session = self._session()
        prompts = [self.prompt(item) for item in items]
        room = self.config.max_length - self.config.max_new_tokens
        fits = [i for i, ids in enumerate(tokenize(session.tokenizer, prompts)) if len(ids) <= room]
        texts = session.generate([prompts[i] for i in fits], self.config.max_new_tokens, [])
        out: list[tuple[Verdict, bool]] = [(Verdict(None, TOO_LONG), False)] * len(items)
        for i, text in zip(fits, texts, strict=True):
            out[i] = (parse_verdict(text), True)
        return out
