"""The `loss` record kind: holdout loss on one domain after one training phase."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from crma_eval.api import Int, Name, NonNeg, RecordKind


class LossRecord(TypedDict):
    """Holdout loss on one domain after one training phase, for one condition and seed."""

    kind: Literal["loss"]
    condition: Name
    seed: Int
    after_phase: Annotated[Int, Field(ge=0)]  # 0: the base model (read by cl, not drift)
    domain: Name
    loss: NonNeg
    n_tokens: Annotated[Int, Field(ge=1)]
    domain_order: NotRequired[list[str] | None]
    checkpoint: NotRequired[str | None]


LOSS_KIND = RecordKind(
    "loss",
    LossRecord,
    key=("condition", "seed", "after_phase", "domain", "checkpoint"),
    description="holdout loss on one domain after one training phase (condition, seed)",
)
