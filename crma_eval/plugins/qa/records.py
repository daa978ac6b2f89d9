"""The `qa` record kind: one answered question under one arm."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from crma_eval.api import Bool01, Int, Name, Num, RecordKind


class QARecord(TypedDict):
    """One answered question under one arm (e.g. with or without CRMA)."""

    kind: Literal["qa"]
    arm: Name
    domain: Name
    item_id: Name
    correct: Bool01
    question: NotRequired[str | None]
    reference: NotRequired[str | None]
    prediction: NotRequired[str | None]
    score: NotRequired[Num | None]
    routed_domain: NotRequired[str | None]
    seed: NotRequired[Int | None]
    checkpoint: NotRequired[str | None]
    after_phase: NotRequired[Annotated[Int, Field(ge=0)] | None]
    domain_order: NotRequired[list[str] | None]
    rater: NotRequired[str | None]


QA_KIND = RecordKind(
    "qa",
    QARecord,
    key=("arm", "domain", "item_id", "seed", "checkpoint", "condition", "after_phase"),
    description="one answered question under one arm",
)
