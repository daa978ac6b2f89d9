"""Fixtures of the bench, gsm8k and audit tests: a tiny Llama built in-process, local lm-eval tasks.

Nothing is downloaded: the tokenizer is trained here with `tokenizers`, the model is a random
2-layer LlamaForCausalLM, and task data are small JSON Lines files written for each test.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from crma_eval.atomicio import write_jsonl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="crma-bench-datasets-"))

REPO = Path(__file__).resolve().parents[1]
GSM8K_YAML = REPO / "tasks" / "gsm8k_crma" / "gsm8k_crma.yaml"
CORPUS = [
    "Question: Janet has 16 eggs and eats 3. How many are left? Answer: 13 #### 13",
    "The answer is 42. Final answer: 7. So she makes $18 every day.",
    "Is the sky blue? yes no true false red green apple banana",
]


@lru_cache(maxsize=1)
def tiny_model() -> tuple[Any, Any]:
    """A random 2-layer Llama and a byte-level BPE tokenizer trained on a few sentences."""
    import torch

    from crma_eval.demo.tinymodel import BOS, EOS, PAD, UNK, tiny_llama, train_tokenizer

    specials = (UNK, BOS, EOS, PAD)  # ids 0-3
    tokenizer = train_tokenizer(
        CORPUS * 4, 320, specials=specials, min_frequency=0, prepend_bos=False
    )
    torch.manual_seed(0)
    model = tiny_llama(tokenizer, hidden=32, max_positions=512, tie=False).eval()
    model.pristine_embeddings = model.get_input_embeddings().weight.detach().clone()
    return model, tokenizer


def write_mc_task(folder: Path, name: str, n_docs: int = 10) -> Path:
    """A two-choice multiple_choice task (acc and acc_norm) over local data."""
    words = ["apple", "banana tree", "red", "green sky", "true", "blue egg", "no", "cherry"]
    rows = [
        {
            "q": f"Is {i} apples more than {i % 4} bananas?",
            "choices": [words[i % 8], words[(3 * i + 1) % 8]],
            "label": (i // 2) % 2,
        }
        for i in range(n_docs)
    ]
    data = write_jsonl(folder / f"{name}.jsonl", rows)
    yaml = (
        f"task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "{{q}} Answer:"\ndoc_to_choice: "{{choices}}"\ndoc_to_target: label\n'
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
        "  - metric: acc_norm\n    aggregation: mean\n    higher_is_better: true\n"
    )
    path = folder / f"{name}.yaml"
    path.write_text(yaml, encoding="utf-8")
    return path


def gsm8k_docs(n: int) -> list[dict[str, str]]:
    """GSM8K-format documents: a question and a worked answer ending in `#### N`."""
    docs = []
    for i in range(1, n + 1):
        total = 1000 * i + 250
        docs.append(
            {
                "question": f"A shop sells {i} boxes of 1000 nails and 250 loose nails. How many?",
                "answer": f"{i}*1000+250=<<{i}*1000+250={total}>>{total}\n#### {total:,}",
            }
        )
    return docs


def write_gsm8k_task(folder: Path, name: str, docs: list[dict[str, str]]) -> Path:
    """A local copy of the shipped gsm8k_crma task (its YAML included) over local data."""
    data = write_jsonl(folder / f"{name}.jsonl", docs)
    yaml = (
        f"include: {GSM8K_YAML}\ntask: {name}\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    train: {data}\n    test: {data}\n"
        "num_fewshot: 0\ngeneration_kwargs:\n  until: ['Question:']\n  do_sample: false\n"
        "  max_gen_toks: 12\n"
    )
    path = folder / f"{name}.yaml"
    path.write_text(yaml, encoding="utf-8")
    return path


@dataclass
class StandInSession:
    """Engine stand-in: one live model; an adapter or CRMA shifts its embeddings, none restores."""

    model: Any
    tokenizer: Any
    calls: list[tuple[Any, Any, bool]] = field(default_factory=list)
    forwards: int = 0
    merges: int = 0

    def __post_init__(self) -> None:
        self._base = self.model.pristine_embeddings
        self.model.register_forward_pre_hook(self._count)

    def _count(self, *_: Any) -> None:
        self.forwards += 1

    def merged(self) -> Any:
        """The engine merges the adapter for a task; the stand-in has none to merge."""
        import contextlib

        self.merges += 1
        return contextlib.nullcontext()

    def activate(self, checkpoint: Any, domain: str | None, crma: bool) -> None:
        import torch

        self.calls.append((None if checkpoint is None else checkpoint.id, domain, crma))
        weight = self.model.get_input_embeddings().weight
        with torch.no_grad():
            weight.copy_(self._base)
            if domain is not None or crma:
                gen = torch.Generator().manual_seed(1)
                weight.add_(torch.randn(weight.shape, generator=gen) * 0.5)


@dataclass
class FakeCheckpoint:
    """What the bench collector reads of a checkpoint (ids, domains, content hashes)."""

    id: str = "modular-seed0-phase2"
    base_model: str = "tiny-llama-in-process"
    domains: tuple[str, ...] = ("medical", "legal")
    adapter_hash: str = "a" * 64
    manifest: Any = field(default_factory=lambda: SimpleNamespace(crma=SimpleNamespace()))
    is_final: bool = True

    @property
    def last_domain(self) -> str:
        return self.domains[-1]

    def adapter_path(self, domain: str) -> Path | None:
        return Path("adapters") / domain if domain in self.domains else None

    def content_hash(self, part: str | None = None) -> str:
        if part is None:  # the whole checkpoint
            return self.adapter_hash + "c" * 64
        return self.adapter_hash if part.startswith("adapter:") else "c" * 64
