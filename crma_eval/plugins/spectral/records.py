"""The `spectral` record kind: the spectral norm of one CRMA mixing matrix."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from crma_eval.api import Int, Name, NonNeg, Num, RecordKind


class SpectralRecord(TypedDict):
    """Spectral norm of one CRMA mixing matrix at one training step (or in a checkpoint)."""

    kind: Literal["spectral"]
    step: Annotated[Int, Field(ge=0)]
    phase: Name
    module: Name
    spectral_norm: NonNeg
    row_sum_err: NotRequired[NonNeg | None]
    col_sum_err: NotRequired[NonNeg | None]
    min_entry: NotRequired[Num | None]
    checkpoint: NotRequired[str | None]


SPECTRAL_KIND = RecordKind(
    "spectral",
    SpectralRecord,
    key=("step", "phase", "module", "checkpoint", "source"),
    description="spectral norm of one CRMA mixing matrix at one step or in a checkpoint",
)
