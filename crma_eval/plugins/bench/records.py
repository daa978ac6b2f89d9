"""The `bench` record kind: one per-document metric value of an lm-eval task under one arm."""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from crma_eval.api import Name, Num, RecordKind


class BenchRecord(TypedDict):
    """One per-document metric value of an lm-eval task under one arm."""

    kind: Literal["bench"]
    task: Name
    arm: Name
    doc_id: Name
    metric: Name
    value: Num
    filter: NotRequired[str | None]
    doc_hash: NotRequired[str | None]
    prediction: NotRequired[str | None]
    target: NotRequired[str | None]
    weight: NotRequired[Num | None]  # rolling log-likelihood: lm-eval's words or bytes
    subtask: NotRequired[str | None]
    groups: NotRequired[list[dict[str, Any]] | None]  # containing the subtask (docs/bench.md)
    higher_is_better: NotRequired[bool | None]  # lm-eval's Task.higher_is_better() of the metric


BENCH_KIND = RecordKind(
    "bench",
    BenchRecord,
    key=("task", "arm", "doc_id", "metric", "filter"),
    description="one per-document metric value of an lm-eval task under one arm",
)


class UnscoredRecord(TypedDict):
    """One document lm-eval could not score under one arm (docs/bench.md), with the reason."""

    kind: Literal["bench_unscored"]
    task: Name
    arm: Name
    doc_id: Name
    reason: Name
    subtask: NotRequired[str | None]
    checkpoint: NotRequired[str | None]


UNSCORED_KIND = RecordKind(
    "bench_unscored",
    UnscoredRecord,
    key=("task", "arm", "subtask", "doc_id"),
    description="one document of an lm-eval task that could not be scored under one arm",
)
