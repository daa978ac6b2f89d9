"""Teacher-forced forward passes: holdout loss (mean NLL per token) and mean-pooled embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from crma_eval.engine.batching import (
    length_sorted_batches,
    pad_batch,
    pad_id_of,
    tokenize,
    windows,
)

IGNORE = -100


def batch_nll_sum(
    logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Summed next-token NLL of a right-padded batch (padding masked), float64 scalar.

    Targets are shifted instead of the logits, so the [B, T, V] logits are never copied.
    """
    targets = torch.full_like(input_ids, IGNORE)
    targets[:, :-1] = input_ids[:, 1:].masked_fill(mask[:, 1:] == 0, IGNORE)
    flat = logits.reshape(-1, logits.shape[-1])
    nll = F.cross_entropy(flat.float(), targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
    return nll.to(torch.float64)


LOGIT_BUDGET = 1 << 22  # float32 logits held at once in chunked scoring (16 MiB)


def _split_head(model: Any) -> tuple[Any, Any, float | None] | None:
    """(decoder, lm head, final logit soft-cap) of a causal LM, or None when not separable.

    transformers' causal LMs compute `logits = head(decoder(ids).last_hidden_state)`, with
    Gemma-2/3 soft-capping them (`tanh(x / c) * c`); PEFT forwards these getters to the base.
    """
    try:
        decoder, head = model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if not isinstance(decoder, torch.nn.Module) or not isinstance(head, torch.nn.Module):
        return None
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    return decoder, head, cap


def chunked_nll_sum(
    model: Any, input_ids: torch.Tensor, mask: torch.Tensor, budget: int = LOGIT_BUDGET
) -> torch.Tensor:
    """Summed next-token NLL of a right-padded batch [B, T], float64 scalar, in bounded memory.

    The decoder runs once; the vocabulary projection and cross-entropy run over chunks of the
    non-padding positions (flattened) so that at most ~`budget` logits (chunk x V) exist at a
    time, instead of the full [B, T, V]. Equal to `batch_nll_sum(model(ids).logits, ...)` up
    to float summation order. Models whose head cannot be separated fall back to the full forward.
    """
    parts = _split_head(model)
    if parts is None:
        return batch_nll_sum(
            model(input_ids=input_ids, attention_mask=mask).logits, input_ids, mask
        )
    decoder, head, cap = parts
    hidden = decoder(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = input_ids[:, 1:].masked_fill(mask[:, 1:] == 0, IGNORE).reshape(-1)
    keep = targets != IGNORE  # padding never reaches the head
    rows, targets = hidden.reshape(-1, hidden.shape[-1])[keep], targets[keep]
    step = max(1, budget // max(1, head.weight.shape[0]))
    total = torch.zeros((), dtype=torch.float64, device=hidden.device)
    for start in range(0, rows.shape[0], step):
        logits = head(rows[start : start + step]).float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        picked = logits.gather(1, targets[start : start + step, None])
        total += (torch.logsumexp(logits, dim=-1).sum() - picked.sum()).to(torch.float64)
    return total


@torch.inference_mode()
def holdout_loss(
    model: Any, tokenizer: Any, texts: list[str], *, batch_size: int, max_length: int, device: Any
) -> tuple[float, int]:
    """Mean NLL per predicted token over `texts` and the token count (NaN, 0 when no tokens).

    Texts longer than `max_length` are scored in windows overlapping by one token; the
    vocabulary projection runs in chunks (`chunked_nll_sum`), so peak memory does not grow
    with vocabulary x batch x length.
    """
    seqs = [w for ids in tokenize(tokenizer, texts) for w in windows(ids, max_length)]
    pad = pad_id_of(tokenizer)
    total = torch.zeros((), dtype=torch.float64)
    n_tokens = 0
    for batch in length_sorted_batches([len(s) for s in seqs], batch_size):
        chunk = [seqs[i] for i in batch if len(seqs[i]) > 1]
        if not chunk:
            continue
        ids, mask = pad_batch(chunk, pad, "right", device)
        total += chunked_nll_sum(model, ids, mask).cpu()
        n_tokens += sum(len(s) - 1 for s in chunk)
    return (float(total) / n_tokens if n_tokens else float("nan")), n_tokens


@torch.inference_mode()
def mean_pooled(
    model: Any, tokenizer: Any, texts: list[str], *, batch_size: int, max_length: int, device: Any
) -> np.ndarray:
    """L2-normalised mean of the last hidden state over each text's tokens, [n, hidden] float32."""
    seqs = tokenize(tokenizer, texts, max_length)
    pad = pad_id_of(tokenizer)
    out: list[np.ndarray | None] = [None] * len(seqs)
    for batch in length_sorted_batches([len(s) for s in seqs], batch_size):
        ids, mask = pad_batch([seqs[i] for i in batch], pad, "right", device)
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        weights = mask.unsqueeze(-1).to(torch.float32)
        pooled = (hidden[-1].float() * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        pooled = F.normalize(pooled, dim=-1).cpu().numpy()
        for row, i in enumerate(batch):
            out[i] = pooled[row]
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([row for row in out if row is not None]).astype(np.float32)
