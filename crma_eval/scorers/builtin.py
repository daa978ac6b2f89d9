"""Built-in scorers: exact, contains, numeric (the rules of crma_eval.scoring), token_f1, rouge_l.

token_f1 is the SQuAD v1.1 F1 (Rajpurkar et al. 2016, official evaluate script): lower-case, drop
punctuation and the articles a/an/the, split on whitespace, F1 of the token multisets. rouge_l is
the ROUGE-L F-measure of Google's `rouge-score` package (Lin 2004), with its Porter stemmer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import cached_property
from typing import Any, ClassVar

from crma_eval import scoring
from crma_eval.scorers import Item, Scorer, Verdict

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _binary(ok: bool) -> Verdict:
    return Verdict(1.0 if ok else 0.0)


class ExactScorer(Scorer):
    """Normalised exact match (crma_eval.scoring.exact_match)."""

    name: ClassVar[str] = "exact"

    def score_one(self, item: Item) -> Verdict:
        """1.0 when the normalised prediction equals the normalised reference."""
        return _binary(scoring.exact_match(item.prediction, item.reference))


class ContainsScorer(Scorer):
    """Exact match or whole-word containment of the reference (the text-answer rule)."""

    name: ClassVar[str] = "contains"

    def score_one(self, item: Item) -> Verdict:
        """1.0 when the prediction equals or contains the reference (normalised, whole words)."""
        ok = scoring.exact_match(item.prediction, item.reference)
        return _binary(ok or scoring.contains(item.prediction, item.reference))


class NumericScorer(Scorer):
    """The prediction's first number equals the reference number (crma_eval.scoring)."""

    name: ClassVar[str] = "numeric"

    def applies(self, item: Item) -> bool:
        """Only items whose reference is a number."""
        return scoring.parse_number(item.reference) is not None

    def score_one(self, item: Item) -> Verdict:
        """1.0 on a numeric match (crma_eval.scoring.numeric_match)."""
        return _binary(scoring.numeric_match(item.prediction, item.reference))


def squad_tokens(text: str) -> list[str]:
    """SQuAD's normalize_answer, split: lower, no punctuation, no articles, whitespace tokens."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 in [0, 1]; 1.0 when both are empty after normalisation, 0.0 when one is."""
    pred, ref = squad_tokens(prediction), squad_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


class TokenF1Scorer(Scorer):
    """SQuAD-style token F1 (graded; passes at the threshold, default 0.5)."""

    name: ClassVar[str] = "token_f1"
    graded: ClassVar[bool] = True

    def score_one(self, item: Item) -> Verdict:
        """Token F1 of prediction against reference."""
        return Verdict(token_f1(item.prediction, item.reference))


class RougeLScorer(Scorer):
    """ROUGE-L F-measure through rouge-score (graded; passes at the threshold, default 0.5)."""

    name: ClassVar[str] = "rouge_l"
    graded: ClassVar[bool] = True

    @cached_property
    def _scorer(self) -> Any:
        from rouge_score import rouge_scorer

        return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)

    def score_one(self, item: Item) -> Verdict:
        """rougeL F-measure (target = reference, prediction = the answer)."""
        return Verdict(
            float(self._scorer.score(item.reference, item.prediction)["rougeL"].fmeasure)
        )

    def identity(self) -> dict[str, Any]:
        """Name, class and the rouge-score settings."""
        return {**super().identity(), "rouge_type": "rougeL", "use_stemmer": True}
