"""The `route` record kind: one routed query of a router stress suite."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from crma_eval.api import Name, Num, RecordKind

ROUTE_CATEGORIES: tuple[str, ...] = ("in_domain", "boundary", "ambiguous", "ood", "perturbed")


class RouteRecord(TypedDict):
    """One routed query of a router stress suite (gold is null for out-of-distribution)."""

    kind: Literal["route"]
    item_id: Name
    category: Literal["in_domain", "boundary", "ambiguous", "ood", "perturbed"]
    gold: str | None
    predicted: str | None
    score: Num
    margin: NotRequired[Num | None]
    scores: NotRequired[dict[str, Num] | None]
    confidence: NotRequired[Annotated[Num, Field(ge=0, le=1)] | None]
    acceptable: NotRequired[list[str] | None]
    query: NotRequired[str | None]
    checkpoint: NotRequired[str | None]


ROUTE_KIND = RecordKind(
    "route",
    RouteRecord,
    key=("item_id", "checkpoint"),
    nullable=frozenset({"gold", "predicted"}),
    description="one routed query of a router stress suite (gold null for OOD)",
)
