"""Drift collector: holdout loss of every domain after every training phase (`loss` records).

A domain already trained at a checkpoint is scored with its own adapter, a domain not yet trained
with no adapter; CRMA is on whenever the checkpoint has one.
"""

from __future__ import annotations

import math
from typing import Any

from crma_eval import CollectContext, InputError, Unit, data_hash, read_holdout


class DriftCollector:
    """One unit per (checkpoint, domain with a holdout file)."""

    plugin = "drift"

    def units(self, ctx: CollectContext) -> list[Unit]:
        """Checkpoints × domains of their order that have holdout data (a phase-0 checkpoint gives
        the base row, after_phase 0, that the cl plugin reads and drift leaves out)."""
        holdout = ctx.config.data.per_domain("holdout")
        return [
            Unit(self.plugin, ck.id, "-", domain)
            for ck in ctx.checkpoints
            for domain in ck.manifest.domain_order
            if domain in holdout
        ]

    def fingerprint_inputs(self, unit: Unit, ctx: CollectContext) -> dict[str, Any]:
        """What a unit depends on beyond its checkpoint: its holdout file and the limit."""
        return {
            "holdout": data_hash(ctx.config.data.per_domain("holdout")[unit.domain]),
            "limit": ctx.config.limit,
        }

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """The holdout loss of `unit.domain` at `unit.checkpoint`."""
        ck = ctx.checkpoint(unit.checkpoint)
        training = ck.manifest.training
        if training is None:
            raise ck.error("drift needs training: {condition, seed, phase} in the manifest")
        path = ctx.config.data.per_domain("holdout")[unit.domain]
        texts = read_holdout(path)[: ctx.config.limit]
        trained = unit.domain in ck.trained_domains and ck.adapter_path(unit.domain) is not None
        session = ctx.session()
        crma = ck.manifest.crma is not None  # the checkpoint as trained
        active = session.activate(ck, unit.domain if trained else None, crma=crma)
        loss, n_tokens = session.holdout_loss(texts)
        if n_tokens == 0:
            raise InputError(
                "no tokens to score (every text is shorter than two tokens)", path=path
            )
        if not math.isfinite(loss):
            raise InputError(f"holdout loss is {loss} at checkpoint {ck.id}", path=path)
        return [
            {
                "kind": "loss",
                "condition": training.condition,
                "seed": training.seed,
                "after_phase": ck.phase,
                "domain": unit.domain,
                "loss": loss,
                "n_tokens": n_tokens,
                "domain_order": list(ck.manifest.domain_order),
                "checkpoint": ck.id,
                "adapter": active.domain,
                "crma": active.crma,
            }
        ]
