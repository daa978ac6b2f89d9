"""The corrected GSM8K extractor as an lm-eval filter, registered as `crma_gsm8k_final_answer`.

Importing this module imports lm-eval (collect side only). Task YAMLs use it by name once
crma_eval.plugins.bench.gsm8k.filter is imported, or through `!function utils.FinalAnswerFilter`
beside the YAML (see tasks/gsm8k_crma), which also works from the plain `lm_eval` command line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lm_eval.api.filter import Filter
from lm_eval.api.registry import filter_registry, register_filter

from crma_eval.plugins.bench.gsm8k import extract_final_answer

FILTER_NAME = "crma_gsm8k_final_answer"
FALLBACK = "[invalid]"


class FinalAnswerFilter(Filter):
    """Replace each response by its final numeric answer (canonical text), or `fallback`."""

    def __init__(self, fallback: str = FALLBACK, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fallback = fallback

    def apply(
        self, resps: Iterable[Sequence[Any]], docs: Sequence[dict[str, Any]]
    ) -> list[list[str]]:
        """One list of extracted answers per instance, in input order (as lm-eval requires)."""
        return [[self._extract(resp) for resp in inst] for inst in resps]

    def _extract(self, resp: Any) -> str:
        answer = extract_final_answer(resp) if isinstance(resp, str) else None
        return self.fallback if answer is None else answer


if filter_registry.get(FILTER_NAME, None) is not FinalAnswerFilter:
    register_filter(FILTER_NAME)(FinalAnswerFilter)
