"""The engine session: base model + tokenizer loaded once; adapters and CRMA switched in place.

`activate(checkpoint, domain, crma)` selects what the next forward passes use. Adapters are
loaded once each (by content hash) into one PeftModel; each distinct CRMA state is built once and
attached as hooks, all bypassed except the active one (a bypassed hook is an exact identity).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from crma_eval.config import EngineConfig
from crma_eval.engine import generation, loss
from crma_eval.engine.adapters import AdapterBank
from crma_eval.errors import InputError

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint

MERGE_MIN_ITEMS = 32
"""Units with at least this many items run with the active adapter merged into the weights:
an un-merged LoRA layer adds two small matmuls per token (measured 1.4x prefill, 1.6x decode
on CPU), while merging costs about one forward of `rank` tokens and one copy of the targeted
weights, repaid after a few items (benchmarks/bench_engine.py)."""


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' loading progress bars (collect shows its own progress)."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@dataclass(frozen=True)
class Active:
    """What the session currently runs: checkpoint id, adapter domain, CRMA on or off."""

    checkpoint: str | None
    domain: str | None
    crma: bool


class EngineSession:
    """A base causal LM loaded once, with hot-swapped LoRA adapters and CRMA modules."""

    def __init__(self, base_model: str, engine: EngineConfig | None = None) -> None:
        self.engine = engine or EngineConfig()
        self.base_model = base_model
        if self.engine.threads is not None:
            torch.set_num_threads(self.engine.threads)
        dtype = (
            self.engine.dtype if self.engine.dtype == "auto" else getattr(torch, self.engine.dtype)
        )
        trust = self.engine.trust_remote_code
        try:
            with _quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(base_model, trust_remote_code=trust)
                base = AutoModelForCausalLM.from_pretrained(
                    base_model,
                    use_safetensors=True,
                    trust_remote_code=trust,
                    dtype=dtype,
                    device_map=self.engine.device_map,
                )
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cannot load base model: {first}", path=base_model) from None
        if self.engine.device_map is None:
            base.to(self.engine.device)  # type: ignore[arg-type]  # transformers' stub: a model
        base.eval().requires_grad_(False)
        self.device = base.device
        self.adapters = AdapterBank(base)
        self._crma: dict[str, Any] = {}
        self._crma_on: Any = None
        self.crma_loads = 0
        self.active = Active(None, None, False)

    @property
    def model(self) -> torch.nn.Module:
        """The live model (wrap it with lm-eval's HFLM, or call it directly)."""
        return self.adapters.model

    @property
    def stats(self) -> dict[str, int]:
        """How many adapters and CRMA states were loaded (each should be loaded once)."""
        return {"adapter_loads": self.adapters.loads, "crma_loads": self.crma_loads}

    def activate(self, checkpoint: Checkpoint, domain: str | None, crma: bool) -> Active:
        """Use the adapter of `domain` (None: none) and, if `crma`, the checkpoint's CRMA.

        `checkpoint` None means the bare base model (then no domain and no CRMA). Asking for CRMA
        on a checkpoint without a `crma:` block is an InputError (never silently CRMA-off).
        """
        if checkpoint is None and (domain is not None or crma):
            raise ValueError("the base model alone has no adapter or CRMA to activate")
        if crma and checkpoint.manifest.crma is None:
            raise checkpoint.error(
                "CRMA asked for (an arm with crma: true) but the checkpoint has no crma: block",
                ("crma",),
            )
        with _quiet_loading():
            self.adapters.activate(checkpoint, domain)
        self._crma_on = self._crma_of(checkpoint) if crma else None
        self._bypass_all_but(self._crma_on)
        ck_id = checkpoint.id if checkpoint is not None else None
        self.active = Active(ck_id, domain, self._crma_on is not None)
        return self.active

    def _crma_of(self, checkpoint: Checkpoint) -> Any:
        spec = checkpoint.manifest.crma
        if spec is None:  # activate() refuses crma=True on such a checkpoint before this
            raise InputError(f"checkpoint {checkpoint.id} has no crma: block")
        key = "|".join(
            (
                spec.implementation,
                json.dumps(spec.config, sort_keys=True),
                checkpoint.content_hash("crma"),
            )
        )
        module = self._crma.get(key)
        if module is None:
            config: Any = self.adapters.base.config
            module = checkpoint.build_crma(int(config.hidden_size))
            if isinstance(module, torch.nn.Module):
                module.to(self.device).eval().requires_grad_(False)
            module.bypass(True)
            try:
                module.attach(self.model)
            except ValueError as exc:
                raise checkpoint.error(f"cannot attach CRMA: {exc}", ("crma", "config")) from None
            self._crma[key] = module
            self.crma_loads += 1
        return module

    @contextmanager
    def base_only(self) -> Iterator[None]:
        """Within the block the model is the bare base (adapters off, every CRMA bypassed)."""
        previous_adapter = self.adapters.active
        self.adapters.switch(None)
        self._bypass_all_but(None)
        try:
            yield
        finally:
            self.adapters.switch(previous_adapter)
            self._bypass_all_but(self._crma_on)

    @contextmanager
    def merged(self) -> Iterator[None]:
        """Within the block the active adapter is merged into the base weights.

        On exit the base weights are restored bit for bit from a copy (no subtraction). Outputs
        equal the un-merged path up to float rounding of `W + s * B @ A` (tests: logits within
        1e-5 in float32). Nothing is merged when no adapter is active. Do not switch adapters
        inside the block.
        """
        saved = self.adapters.merge_active()
        try:
            yield
        finally:
            self.adapters.unmerge(saved)

    def _unit(self, n_items: int) -> contextlib.AbstractContextManager[None]:
        """Merged for a unit of at least MERGE_MIN_ITEMS items, else as is."""
        return self.merged() if n_items >= MERGE_MIN_ITEMS else contextlib.nullcontext()

    def _bypass_all_but(self, live: Any) -> None:
        for module in self._crma.values():
            module.bypass(module is not live)

    def _sizes(self) -> dict[str, Any]:
        return {
            "batch_size": self.engine.batch_size,
            "max_length": self.engine.max_length,
            "device": self.device,
        }

    def holdout_loss(self, texts: list[str]) -> tuple[float, int]:
        """Mean NLL per predicted token over `texts`, and the number of tokens."""
        with self._unit(len(texts)):
            return loss.holdout_loss(self.model, self.tokenizer, texts, **self._sizes())

    def generate(self, prompts: list[str], max_new_tokens: int, stop: list[str]) -> list[str]:
        """Greedy answers to `prompts`, cut at the first stop string."""
        with self._unit(len(prompts)):
            return generation.generate(
                self.model,
                self.tokenizer,
                prompts,
                max_new_tokens=max_new_tokens,
                stop=stop,
                **self._sizes(),
            )

    def embed(self, texts: list[str]) -> np.ndarray:
        """Router encoder: L2-normalised mean-pooled last hidden state of the bare base model."""
        with self.base_only():
            return loss.mean_pooled(self.model, self.tokenizer, texts, **self._sizes())
