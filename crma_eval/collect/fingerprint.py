"""Per-unit input fingerprints: what a collect unit's records depend on, hashed.

A resumed run keeps a completed unit exactly when its fingerprint is unchanged, so adding arms,
plugins or checkpoints recomputes nothing that was done, and changing something a unit depends on
(its checkpoint's files, its data file, generation or engine settings, library versions, the base
model's content) recomputes that unit only. Collectors name their own inputs through an optional
`fingerprint_inputs(unit, ctx) -> dict` method; without one every data file and the generation
settings count (safe: a change recomputes more, never less).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crma_eval.checkpoint.basemodel import base_model_fingerprint
from crma_eval.store import cached_sha256

if TYPE_CHECKING:
    from crma_eval.api.collect import CollectContext, Collector, Unit


def data_hash(path: str | Path | None) -> str | None:
    """sha256 of a data file by content ("missing" when absent; None when not configured)."""
    if path is None:
        return None
    return cached_sha256(path) if Path(path).is_file() else "missing"


def default_inputs(ctx: CollectContext) -> dict[str, Any]:
    """Inputs of a unit whose collector does not name its own: all data and generation."""
    data = ctx.config.data
    return {
        "data": {str(p): data_hash(p) for p in data.paths()},
        "generation": ctx.config.generation.model_dump(mode="json"),
        "arms": [a.model_dump(mode="json") for a in ctx.config.arms],
        "limit": ctx.config.limit,
    }


def unit_fingerprint(collector: Collector, unit: Unit, ctx: CollectContext) -> str:
    """sha256 (hex) of everything `unit`'s records depend on.

    Parts: the unit key, library versions, engine settings, the plugin's options, the
    checkpoint's content hash, the base model's content hash, and the collector's own inputs.
    """
    from crma_eval.versions import library_versions

    config = ctx.config
    known = {ck.id: ck for ck in ctx.checkpoints}
    ck = known.get(unit.checkpoint)
    anchor = ck if ck is not None else (ctx.checkpoints[0] if ctx.checkpoints else None)
    base = config.base_model or (anchor.base_model if anchor is not None else None)
    hook = getattr(collector, "fingerprint_inputs", None)
    parts = {
        "unit": unit.key,
        "versions": library_versions(),
        "engine": config.engine.identity(),
        "options": config.options.get(unit.plugin),
        "checkpoint": ck.content_hash() if ck is not None else None,
        "base_model": None if base is None else base_model_fingerprint(str(base)),
        "inputs": hook(unit, ctx) if hook is not None else default_inputs(ctx),
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
