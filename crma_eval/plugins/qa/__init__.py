"""QA plugin: accuracy per arm and domain, with confidence intervals."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from crma_eval.api import DataShape, PairSpec, Plugin, RecordKind
from crma_eval.plugins.qa.records import QA_KIND

if TYPE_CHECKING:
    import pandas as pd

_SEGMENT = r"(?!(?:seed|checkpoint)_)[^.]+"  # a condition or domain, not a replicate
ACCURACY = re.compile(
    rf"qa\.(?P<arm>[^.]+)(?:\.(?P<first>{_SEGMENT}))?(?:\.(?P<second>{_SEGMENT}))?"
    r"(?:\.(?P<replicate>seed|checkpoint)_(?P<value>[^.]+))?\.accuracy"
)
QA_KEYS = ("domain", "item_id", "seed", "checkpoint", "condition")


def _covered(
    arm: str, segments: list[str], replicate: dict[str, str], frame: pd.DataFrame
) -> pd.DataFrame:
    """The records a qa accuracy metric covers: its arm, and its condition and/or domain (one
    segment names a domain, or a condition when the records carry several), and its replicate
    (`seed_<k>` / `checkpoint_<c>`: that seed's or checkpoint's answers) when named."""
    from crma_eval import select_slugged

    rows = select_slugged(frame, {"arm": arm, **replicate})
    if len(segments) == 2:
        return select_slugged(rows, {"condition": segments[0], "domain": segments[1]})
    if not segments or rows.empty:
        return rows
    by_domain = select_slugged(rows, {"domain": segments[0]})
    if by_domain.empty and "condition" in rows.columns:
        return select_slugged(rows, {"condition": segments[0]})
    return by_domain


class QAPlugin(Plugin):
    """Accuracy of each arm (e.g. with/without CRMA) on each domain's QA set."""

    name: ClassVar[str] = "qa"
    title: ClassVar[str] = "Domain QA accuracy"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (QA_KIND,)
    order: ClassVar[int] = 10
    collector: ClassVar[str | None] = ".collect:QACollector"
    data: ClassVar[dict[str, DataShape]] = {"qa": "per_domain"}
    analysis: ClassVar[str | None] = ".analysis:analyze_qa"
    section: ClassVar[str | None] = ".section:qa_section"
    items: ClassVar[str | None] = ".items:qa_items"
    definitions: ClassVar[tuple[tuple[str, str], ...]] = (
        (
            "Proportion intervals",
            "Wilson score interval by default; Clopper–Pearson, Jeffreys and Agresti–Coull on "
            "request. The method is printed beside every interval.",
        ),
    )

    def pairing(self, metric: str) -> PairSpec | None:
        """`qa.<arm>[.<condition>][.<domain>][.seed_<k>].accuracy`: that arm's qa records (of that
        condition, domain and seed or checkpoint), paired on domain, item_id, seed, checkpoint
        and condition."""
        match = ACCURACY.fullmatch(metric)
        if match is None:
            return None
        segments = [s for s in (match["first"], match["second"]) if s]
        replicate = {match["replicate"]: match["value"]} if match["replicate"] else {}
        select = partial(_covered, match["arm"], segments, replicate)
        return PairSpec("qa", select, QA_KEYS, "correct")
