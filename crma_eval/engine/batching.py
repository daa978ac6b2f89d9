"""Batching helpers: tokenise once, group by length (less padding), pad left or right."""

from __future__ import annotations

from typing import Any

import torch


def tokenize(tokenizer: Any, texts: list[str], max_length: int | None = None) -> list[list[int]]:
    """Token ids of each text (special tokens added), truncated to `max_length` if given."""
    if not texts:
        return []
    truncate = {"truncation": True, "max_length": max_length} if max_length else {}
    encoded = tokenizer(list(texts), add_special_tokens=True, verbose=False, **truncate)
    return [list(ids) for ids in encoded["input_ids"]]


def windows(ids: list[int], max_length: int) -> list[list[int]]:
    """Split a long sequence into windows of `max_length` overlapping by one token, so every
    token after the first is predicted exactly once (context restarts at each window)."""
    if len(ids) <= max_length:
        return [ids]
    step = max_length - 1
    return [ids[i : i + max_length] for i in range(0, len(ids) - 1, step)]


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (stable, deterministic)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(
    seqs: list[list[int]], pad_id: int, side: str, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """`input_ids` and `attention_mask` [B, T] of token id lists padded on `side` (left/right)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        span = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return ids.to(device), mask.to(device)


def pad_id_of(tokenizer: Any) -> int:
    """The id used for padding: the pad token, else EOS, else 0."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0
