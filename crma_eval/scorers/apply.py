"""Score QA records with the configured scorers (used by the QA collector and `crma-eval rescore`).

Each record gains or updates:
  scores:    {scorer: value in [0, 1] | null}   (null: the scorer abstained)
  verdicts:  {scorer: true | false | null}      (graded scorers pass at their threshold)
  abstained: {scorer: why}                      (only scorers that abstained on this record)
  flags:     {scorer: why}                      (e.g. an answer holding judge-format markers)
  primary:   the scorer that decides `correct`
  correct:   the primary's verdict; when the primary abstains, the scoring rule for the answer type
             (contains / numeric) decides and `correct_by` names it.
Scores of scorers not re-run are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crma_eval.scorers import Item, Scorer, Verdict, make_scorer
from crma_eval.scorers.config import ScorersConfig, fallback_for


@dataclass
class ScoringSummary:
    """Per scorer: items scored and abstentions (by reason); scorer identities; judge traffic."""

    scored: Counter[str] = field(default_factory=Counter)
    abstained: dict[str, Counter[str]] = field(default_factory=dict)
    identities: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    cache_hits: int = 0
    flagged: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (recorded in results.json meta under `scoring`)."""
        return {
            "scorers": self.identities,
            "scored": dict(self.scored),
            "abstained": {s: dict(c) for s, c in self.abstained.items()},
            "judge_requests": self.requests,
            "judge_cache_hits": self.cache_hits,
            "flagged": dict(self.flagged),
        }


def item_of(record: dict[str, Any]) -> Item:
    """The scorer input of a qa record (missing texts are empty)."""
    return Item(
        question=str(record.get("question") or ""),
        reference=str(record.get("reference") or ""),
        prediction=str(record.get("prediction") or ""),
        answer_type=str(record.get("answer_type") or "text"),
    )


def _passes(scorer: Scorer, value: float | None, config: ScorersConfig) -> bool | None:
    if value is None:
        return None
    return value >= config.threshold_for(scorer.name) if scorer.graded else value >= 0.5


def _run(
    name: str, scorer: Scorer, records: list[dict[str, Any]], summary: ScoringSummary
) -> dict[int, Verdict]:
    """Verdicts of one scorer on the records it applies to, by record index."""
    idx = [i for i, r in enumerate(records) if scorer.applies(item_of(r))]
    verdicts = scorer.score([item_of(records[i]) for i in idx])
    summary.identities[name] = scorer.identity()
    summary.requests += getattr(scorer, "requests", 0)
    summary.cache_hits += getattr(scorer, "cache_hits", 0)
    return dict(zip(idx, verdicts, strict=True))


def score_records(
    records: list[dict[str, Any]],
    config: ScorersConfig,
    names: Sequence[str] | None = None,
    primary: str | None = None,
    config_primary: bool = False,
) -> ScoringSummary:
    """Score `records` in place with `names` (default: each item's configured scorers).

    primary: the scorer deciding `correct` for every record. Otherwise the config's per item when
    `config_primary` or `names` is None (collection), else the record's earlier primary (records
    without one keep their `correct`). Raises InputError for unknown scorers or bad options.
    """
    summary = ScoringSummary()
    wanted = {
        i: list(names) if names else config.names_for(r["domain"], item_of(r).answer_type)
        for i, r in enumerate(records)
    }
    for name in dict.fromkeys(n for ns in wanted.values() for n in ns):
        scorer = make_scorer(name, config.options_for(name))
        mine = [i for i, ns in wanted.items() if name in ns]
        verdicts = _run(name, scorer, [records[i] for i in mine], summary)
        for j, verdict in verdicts.items():
            _store(records[mine[j]], name, verdict, _passes(scorer, verdict.value, config))
            summary.scored[name] += 1
            if verdict.flag:
                summary.flagged[name] += 1
            if verdict.value is None:
                summary.abstained.setdefault(name, Counter())[verdict.note or "abstained"] += 1
    for record in records:
        choice = primary
        if choice is None and (config_primary or names is None):
            choice = config.primary_for(record["domain"], item_of(record).answer_type)
        choice = choice or record.get("primary")
        if choice is not None:
            decide(record, choice, config)
    return summary


def _store(record: dict[str, Any], name: str, verdict: Verdict, passed: bool | None) -> None:
    record.setdefault("scores", {})[name] = verdict.value
    record.setdefault("verdicts", {})[name] = passed
    abstained = {k: v for k, v in (record.get("abstained") or {}).items() if k != name}
    if verdict.value is None:
        abstained[name] = verdict.note or "abstained"
    record["abstained"] = abstained
    flags = {k: v for k, v in (record.get("flags") or {}).items() if k != name}
    if verdict.flag:
        flags[name] = verdict.flag
    if flags or "flags" in record:
        record["flags"] = flags


def decide(record: dict[str, Any], primary: str, config: ScorersConfig) -> None:
    """Set `primary`, `correct` and `correct_by` from the verdicts (fallback when it abstains)."""
    verdicts = record.get("verdicts") or {}
    record["primary"] = primary
    if verdicts.get(primary) is not None:
        record["correct"], record["correct_by"] = bool(verdicts[primary]), primary
        return
    fallback = fallback_for(item_of(record).answer_type)
    if verdicts.get(fallback) is None:
        scorer = make_scorer(fallback, config.options_for(fallback))
        verdict = scorer.score([item_of(record)])[0]
        _store(record, fallback, verdict, _passes(scorer, verdict.value, config))
    record["correct"], record["correct_by"] = bool(record["verdicts"][fallback]), fallback
