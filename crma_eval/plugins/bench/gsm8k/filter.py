"""The corrected GSM8K extractor as an lm-eval filter, registered as `crma_gsm8k_final_answer`.

Importing this module imports lm-eval (collect side only). Task YAMLs use it by name once
crma_eval.plugins.bench.gsm8k.filter is imported, or through `!function utils.FinalAnswerFilter`
beside the YAML (see tasks/gsm8k_crma), which also works from the plain `lm_eval` command line.

Canonical targets: the filter returns `CanonicalAnswer` strings. lm-eval's generate_until scoring
casts the target to the type of the filtered response (`gold = type(result)(gold)` in
`ConfigurableTask.process_results`, lm-eval 0.4), so the target of this pipeline passes through
the same reader and canonical form as the prediction ("#### 3.50", "3.5" and "$3.50" all become
"3.5"), while other filters of the same task (plain `str` responses) see the target unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lm_eval.api.filter import Filter
from lm_eval.api.registry import filter_registry, register_filter

from crma_eval.plugins.bench.gsm8k import extract_final_answer

FILTER_NAME = "crma_gsm8k_final_answer"
FALLBACK = "[invalid]"


class CanonicalAnswer(str):
    """A text's final numeric answer in canonical form ("1250", "3.5"), else the text unchanged.

    Idempotent: an already canonical answer stays as it is. A target without a readable number
    keeps its own text, so it never equals the fallback of an unreadable response.
    """

    def __new__(cls, text: object) -> CanonicalAnswer:
        answer = extract_final_answer(str(text))
        return super().__new__(cls, str(text) if answer is None else answer)


class FinalAnswerFilter(Filter):
    """Replace each response by its final numeric answer (`CanonicalAnswer`), or `fallback`."""

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
        return CanonicalAnswer(self.fallback if answer is None else answer)


if filter_registry.get(FILTER_NAME, None) is not FinalAnswerFilter:
    register_filter(FILTER_NAME)(FinalAnswerFilter)
