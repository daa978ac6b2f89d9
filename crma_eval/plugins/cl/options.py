"""`options.cl` of a run config (also read by `crma-eval analyze` through AnalyzeOptions.extra)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CLOptions(BaseModel):
    """Which records form the matrices' special rows and series, and the interval settings.

    domain_order: the domain trained in each phase (default: the records' `domain_order`, then
    `options.drift.domain_order`, then the condition's loss records). base_arm: the qa arm whose
    answers are row 0 (the base model) of every series without after_phase 0 records. joint: the
    condition of the jointly trained reference (its last phase), for intransigence. primary_arm:
    condition -> arm whose matrix is named `cl.<condition>.<metric>` when the condition has
    several arms measured after every phase (the others are `cl.<condition>.<arm>.<metric>`).
    oracle_arm / routed_arm: the two arms of the modular attribution (default: those of
    `options.router`, else the one arm with routed domains and the arm named `oracle`).
    n_resamples: item-cluster bootstrap resamples.
    """

    model_config = ConfigDict(extra="forbid")

    domain_order: list[str] | None = Field(None, min_length=2)
    base_arm: str = Field("base", min_length=1)
    joint: str = Field("joint", min_length=1)
    primary_arm: dict[str, str] = Field(default_factory=dict)
    oracle_arm: str | None = None
    routed_arm: str | None = None
    n_resamples: int = Field(2000, ge=100, le=100_000)


def cl_options(extra: dict[str, Any]) -> CLOptions:
    """`options.cl` validated, with the drift and router plugins' settings as fallbacks."""
    own = dict(extra.get("cl") or {})
    drift, router = extra.get("drift") or {}, extra.get("router") or {}
    if own.get("domain_order") is None and drift.get("domain_order") is not None:
        own["domain_order"] = drift["domain_order"]
    for key in ("oracle_arm", "routed_arm"):
        if own.get(key) is None and router.get(key) is not None:
            own[key] = router[key]
    return CLOptions.model_validate(own)
