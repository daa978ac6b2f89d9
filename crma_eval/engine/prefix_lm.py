"""lm-eval model `crma-hf`: HFLM with prefix-shared multiple-choice scoring.

lm-eval's `HFLM._loglikelihood_tokens` runs every (context, continuation) pair as its own
sequence, so a 4-choice question encodes its context 4 times. `PrefixSharedLM` groups the
requests by context tokens, encodes each context once (batched across documents, right-padded)
and scores every continuation from that context's KV cache. Rolling log-likelihood (whose
windows rarely share a context), generation and requests that need left truncation keep HFLM's
own code. Log-likelihoods equal HFLM's up to float summation order (tests: 1e-4).

Registered with lm-eval's model registry on import. Plain `lm_eval` has no plugin discovery
for models, so from the shell use `python -m crma_eval.engine.prefix_lm --model crma-hf ...`
(the `lm_eval` command line with this module imported).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import torch
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

Request = tuple[tuple[str, str], list[int], list[int]]
DEFAULT_DOCS_PER_BATCH = 16


def _is_sliding(config: Any) -> bool:
    """True when attention uses a sliding window (padding would shift the window)."""
    types = getattr(config, "layer_types", None) or []
    return bool(getattr(config, "sliding_window", None)) or any("sliding" in t for t in types)


@register_model("crma-hf")
class PrefixSharedLM(HFLM):
    """HFLM whose `loglikelihood` encodes a shared context once (see module docstring)."""

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """lm-eval's split of the joint encoding; when a token spans the join and the
        continuation gets no token of its own, the continuation encoded alone (lm-eval PR
        #4055; HFLM asserts instead, lm-eval issues #1053, #1297)."""
        context_enc, continuation_enc = super()._encode_pair(context, continuation)
        if not continuation_enc and self.backend == "causal":
            spaces = len(context) - len(context.rstrip())
            text = context[len(context) - spaces :] + continuation if spaces else continuation
            context_enc = self.tok_encode(context[: len(context) - spaces] or context)
            continuation_enc = self.tok_encode(text, add_special_tokens=False)
        return context_enc, continuation_enc

    def _loglikelihood_tokens(
        self,
        requests: list[Request],
        disable_tqdm: bool = False,
        override_bs: int | None = None,
    ) -> list[tuple[float, bool]]:
        """(sum log p(continuation | context), greedy?) per request, in request order."""
        if self.backend != "causal":
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        # an empty continuation (an empty choice string) has log-likelihood 0, the empty sum;
        # one longer than the model's window cannot be scored (HFLM asserts): NaN, and the
        # bench records the document as unscored (crma_eval.plugins.bench.samples)
        out: list[tuple[float, bool] | None] = [
            (math.nan, False) if len(r[2]) > self.max_length else None if r[2] else (0.0, True)
            for r in requests
        ]
        long = [
            i
            for i, r in enumerate(requests)
            if out[i] is None and len(r[1]) + len(r[2]) > self.max_length + 1
        ]
        if long:  # HFLM truncates these from the left; keep its exact behaviour
            answers = super()._loglikelihood_tokens([requests[i] for i in long], True, override_bs)
            for i, ans in zip(long, answers, strict=True):
                out[i] = ans
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (_, ctx, _) in enumerate(requests):
            if out[i] is None:
                groups.setdefault(tuple(ctx), []).append(i)
        for batch in self._context_batches(list(groups), override_bs):
            for i, ans in self._score_batch(batch, [groups[c] for c in batch], requests):
                out[i] = ans
                if requests[i][0] is not None:
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], ans)
        return [ans for ans in out if ans is not None]

    def _context_batches(
        self, contexts: list[tuple[int, ...]], override_bs: int | None
    ) -> Iterator[list[tuple[int, ...]]]:
        """Contexts longest first, `batch_size` per batch; one length per batch if sliding."""
        size = self.batch_size if isinstance(self.batch_size, int) else override_bs
        size = size or DEFAULT_DOCS_PER_BATCH
        contexts = sorted(contexts, key=lambda c: (-len(c), c))
        same_length = _is_sliding(self.model.config)
        batch: list[tuple[int, ...]] = []
        for ctx in contexts:
            if batch and (len(batch) >= size or (same_length and len(ctx) != len(batch[0]))):
                yield batch
                batch = []
            batch.append(ctx)
        if batch:
            yield batch

    @torch.no_grad()
    def _score_batch(
        self, contexts: list[tuple[int, ...]], members: list[list[int]], requests: list[Request]
    ) -> list[tuple[int, tuple[float, bool]]]:
        """Encode `contexts` once, then every member continuation from the cached keys/values."""
        pad = self.tokenizer.pad_token_id or 0
        ctx_ids, ctx_mask = _right_padded([list(c) for c in contexts], pad, self.device)
        lengths = ctx_mask.sum(1)
        keep = torch.unique(lengths - 1)  # positions whose logits predict a first token
        with self._autocast():
            first = self.model(
                input_ids=ctx_ids,
                attention_mask=ctx_mask,
                use_cache=True,
                logits_to_keep=keep,
            )
        at = torch.searchsorted(keep, lengths - 1)
        # logits predicting each continuation's first token, [D, V]
        last = first.logits[torch.arange(len(contexts), device=self.device), at].float()
        rows = [(d, i) for d, group in enumerate(members) for i in group]
        conts = [requests[i][2] for _, i in rows]
        doc = torch.tensor([d for d, _ in rows], device=self.device)
        head = torch.tensor([c[0] for c in conts], device=self.device)
        logp = last[doc, head] - torch.logsumexp(last, dim=-1)[doc]
        greedy = last.argmax(-1)[doc] == head
        rest = [c[1:] for c in conts]
        if max(len(c) for c in rest) > 0:
            rest_lp, rest_greedy = self._score_rest(_cache_of(first), ctx_mask, doc, conts)
            logp, greedy = logp + rest_lp, greedy & rest_greedy
        return [
            (i, (float(lp), bool(g)))
            for (_, i), lp, g in zip(rows, logp.tolist(), greedy.tolist(), strict=True)
        ]

    def _score_rest(
        self, cache: Any, ctx_mask: torch.Tensor, doc: torch.Tensor, conts: list[list[int]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-prob sum and all-greedy flag of tokens 2.. of each continuation, [R] each."""
        cache.batch_select_indices(doc)
        pad = self.tokenizer.pad_token_id or 0
        inp, inp_mask = _right_padded([c[:-1] for c in conts], pad, self.device)
        tgt, tgt_mask = _right_padded([c[1:] for c in conts], pad, self.device)
        width = inp.shape[1]
        if width == 0 or tgt.shape[1] == 0:
            zero = torch.zeros(len(conts), device=self.device)
            return zero, torch.ones(len(conts), dtype=torch.bool, device=self.device)
        positions = ctx_mask[doc].sum(1, keepdim=True) + torch.arange(width, device=self.device)
        with self._autocast():
            logits = self.model(
                input_ids=inp,
                attention_mask=torch.cat([ctx_mask[doc], inp_mask], dim=1),
                position_ids=positions,
                use_cache=True,
                **{self._cache_arg(): cache},
            ).logits
        logits = logits.float()
        picked = logits.gather(2, tgt.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
        picked = picked * tgt_mask
        hits = (logits.argmax(-1) == tgt) | (tgt_mask == 0)
        return picked.sum(1), hits.all(1)

    def _cache_arg(self) -> str:
        """The forward keyword for a KV cache: `cache` (transformers >= 5.2x) or the older name."""
        model = self.model
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        params = inspect.signature(type(base).forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def _autocast(self) -> Any:
        """HFLM's mixed-precision setting, as in its `_model_call`."""
        dtype = getattr(self, "mixed_precision_dtype", None)
        return torch.autocast(device_type=self.device.type, dtype=dtype, enabled=dtype is not None)


def _cache_of(output: Any) -> Any:
    """The KV cache a forward returned (`cache` in transformers >= 5.2x, else the older name)."""
    cache = getattr(output, "cache", None) if "cache" in output else None
    return cache if cache is not None else output.past_key_values


def _right_padded(
    seqs: list[list[int]], pad: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, max len] ids and 0/1 mask of `seqs` padded on the right (width 0 if all empty)."""
    width = max((len(s) for s in seqs), default=0)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


if __name__ == "__main__":  # `python -m crma_eval.engine.prefix_lm --model crma-hf ...`
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()
