"""Greedy batched generation with left padding; answers are cut at the first stop string."""

from __future__ import annotations

from typing import Any

import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from crma_eval.engine.batching import length_sorted_batches, pad_batch, pad_id_of, tokenize


def cut_at_stop(text: str, stop: list[str]) -> str:
    """`text` up to (not including) the earliest occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


class StopOnStrings(StoppingCriteria):
    """Marks a sequence finished once its generated text contains a stop string."""

    def __init__(self, tokenizer: Any, stop: list[str], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(
            input_ids[:, self.prompt_width :], skip_special_tokens=True
        )
        done = [any(s in t for s in self.stop) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    *,
    max_new_tokens: int,
    stop: list[str],
    batch_size: int,
    max_length: int,
    device: Any,
) -> list[str]:
    """Greedy continuation of each prompt (left-padded batches), cut at the first stop string."""
    keep = max(1, max_length - max_new_tokens)
    seqs = [ids[-keep:] for ids in tokenize(tokenizer, prompts)]  # keep each prompt's end
    pad = pad_id_of(tokenizer)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
    )
    out: list[str] = [""] * len(seqs)
    for batch in length_sorted_batches([len(s) for s in seqs], batch_size):
        ids, mask = pad_batch([seqs[i] for i in batch], pad, "left", device)
        criteria = (
            StoppingCriteriaList([StopOnStrings(tokenizer, stop, ids.shape[1])]) if stop else None
        )
        generated = model.generate(
            input_ids=ids, attention_mask=mask, generation_config=config, stopping_criteria=criteria
        )
        texts = tokenizer.batch_decode(generated[:, ids.shape[1] :], skip_special_tokens=True)
        for i, text in zip(batch, texts, strict=True):
            out[i] = cut_at_stop(text, stop)
    return out
