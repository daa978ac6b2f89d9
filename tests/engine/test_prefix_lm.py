"""Prefix-shared multiple-choice scoring (`crma-hf`) equals lm-eval's HFLM on the same requests."""

from __future__ import annotations

import random

import pytest
import tinymodel as tm
import torch
from lm_eval.api.instance import Instance
from lm_eval.api.registry import get_model
from lm_eval.models.huggingface import HFLM
from transformers import (
    GemmaConfig,
    GemmaForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
)

from crma_eval.engine.prefix_lm import PrefixSharedLM

pytestmark = pytest.mark.slow  # a real tiny model and lm-eval's HFLM

SHAPES = {
    "llama": (LlamaForCausalLM, LlamaConfig, {}),
    "mistral": (MistralForCausalLM, MistralConfig, {"sliding_window": 24}),
    "gemma": (GemmaForCausalLM, GemmaConfig, {"head_dim": 8}),
}


def _model(shape: str, vocab: int) -> torch.nn.Module:
    cls, config_cls, extra = SHAPES[shape]
    torch.manual_seed(3)
    config = config_cls(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        **extra,
    )
    model = cls(config).eval()
    with torch.no_grad():  # sharper distributions make argmax ties impossible
        model.get_output_embeddings().weight.mul_(4.0)
    return model


def _requests(vocab: int) -> list[tuple[tuple[str, str], list[int], list[int]]]:
    """Multiple-choice-shaped requests: 4 continuations (1-7 tokens) per context (3-40 tokens)."""
    rng = random.Random(7)
    out = []
    for doc in range(13):
        ctx = [rng.randrange(4, vocab) for _ in range(rng.randint(3, 40))]
        for choice in range(4):
            cont = [rng.randrange(4, vocab) for _ in range(rng.choice([1, 2, 5, 7]))]
            out.append(((f"doc{doc}", f"choice{choice}"), ctx, cont))
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_prefix_shared_equals_hflm(shape: str) -> None:
    tokenizer = tm.build_tokenizer()
    model = _model(shape, len(tokenizer))
    requests = _requests(len(tokenizer))
    want = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=5)._loglikelihood_tokens(
        requests, disable_tqdm=True
    )
    ours = PrefixSharedLM(pretrained=model, tokenizer=tokenizer, batch_size=5)
    got = ours._loglikelihood_tokens(requests, disable_tqdm=True)
    assert len(got) == len(want) == len(requests)
    for (lp, greedy), (want_lp, want_greedy) in zip(got, want, strict=True):
        assert lp == pytest.approx(want_lp, abs=1e-4)
        assert greedy == want_greedy
    # same accuracy: the chosen answer of every document is the same
    best: dict[str, dict[str, tuple[float, str]]] = {"got": {}, "want": {}}
    for ((doc, choice), _, _), (lp, _), (want_lp, _) in zip(requests, got, want, strict=True):
        for key, value in (("got", lp), ("want", want_lp)):
            best[key][doc] = max(best[key].get(doc, (-1e30, "")), (value, choice))
    assert {d: c for d, (_, c) in best["got"].items()} == {
        d: c for d, (_, c) in best["want"].items()
    }


def test_long_requests_fall_back_to_hflm_truncation() -> None:
    tokenizer = tm.build_tokenizer()
    model = _model("llama", len(tokenizer))
    rng = random.Random(1)
    ctx = [rng.randrange(4, len(tokenizer)) for _ in range(30)]
    requests = [(("a", "b"), ctx, [5, 6, 7]), (("a", "c"), ctx, [8])]
    kwargs = {"pretrained": model, "tokenizer": tokenizer, "batch_size": 2, "max_length": 16}
    want = HFLM(**kwargs)._loglikelihood_tokens(requests, disable_tqdm=True)
    got = PrefixSharedLM(**kwargs)._loglikelihood_tokens(requests, disable_tqdm=True)
    assert [g[0] for g in got] == pytest.approx([w[0] for w in want], abs=1e-4)


def test_registered_and_loglikelihood_api() -> None:
    assert get_model("crma-hf") is PrefixSharedLM
    tokenizer = tm.build_tokenizer()
    model = _model("llama", len(tokenizer))
    args = [("the patient has", " a fever"), ("the patient has", " the court"), ("a", " bond")]
    reqs = [
        Instance("loglikelihood", {}, a, idx=i, metadata=("t", i, 1)) for i, a in enumerate(args)
    ]
    want = HFLM(pretrained=model, tokenizer=tokenizer).loglikelihood(reqs, disable_tqdm=True)
    got = PrefixSharedLM(pretrained=model, tokenizer=tokenizer).loglikelihood(
        reqs, disable_tqdm=True
    )
    assert [g[0] for g in got] == pytest.approx([w[0] for w in want], abs=1e-4)
