"""The demo's tiny causal LM and tokenizer, built in-process (no downloads).

The tokenizer is a byte-level BPE trained on the demo text, so any string round-trips exactly
(newlines included, which the QA prompt needs). It prepends `<s>` to every text; training appends
`</s>`, so greedy generation stops after an answer. The tests and the engine benchmark build their
own tiny models (WordLevel or BPE tokenizers, other sizes) with the same builders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"


def _wrap(tok: Tokenizer, specials: Sequence[str], **kwargs: Any) -> PreTrainedTokenizerFast:
    """`tok` as a transformers tokenizer naming its pad/bos/eos (and unk, if among `specials`)."""
    if UNK in specials:
        kwargs["unk_token"] = UNK
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, **kwargs
    )


def train_tokenizer(
    lines: Iterable[str],
    vocab_size: int = 640,
    *,
    specials: Sequence[str] = (PAD, BOS, EOS),
    min_frequency: int = 2,
    prepend_bos: bool = True,
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on `lines`, wrapped for transformers.

    `specials` take the first ids in order (`<unk>` among them becomes the unknown token);
    `prepend_bos` adds `<s>` before every text.
    """
    tok = Tokenizer(models.BPE(unk_token=UNK if UNK in specials else None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer)
    if not prepend_bos:
        return _wrap(tok, specials)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return _wrap(tok, specials, padding_side="right")


def wordlevel_tokenizer(
    *, lines: Iterable[str] | None = None, words: Sequence[str] = ()
) -> PreTrainedTokenizerFast:
    """A whitespace WordLevel tokenizer; `<pad> <unk> <s> </s>` are ids 0-3.

    The other ids go to `words` in order, or, given `lines`, to the words learned from them.
    """
    specials = [PAD, UNK, BOS, EOS]
    vocab = {t: i for i, t in enumerate([*specials, *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab if words else None, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if lines is not None:
        tok.train_from_iterator(lines, trainers.WordLevelTrainer(special_tokens=specials))
    return _wrap(tok, specials)


def tiny_llama(
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = None,
    intermediate: int | None = None,
    max_positions: int = 128,
    tie: bool = True,
) -> LlamaForCausalLM:
    """A freshly initialised tiny Llama whose vocabulary and special ids match `tokenizer`.

    `kv_heads` defaults to `heads` and `intermediate` to `2 * hidden`; seed torch beforehand.
    """
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate or 2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads or heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=tie,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def save_base(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, folder: Path) -> Path:
    """Save model (safetensors) and tokenizer where AutoModel/AutoTokenizer can load them."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def encode(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> list[torch.Tensor]:
    """Token ids of each text as the model trains on it: `<s>` text `</s>`."""
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    return [torch.tensor([*row, tokenizer.eos_token_id]) for row in ids]
