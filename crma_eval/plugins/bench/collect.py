"""Collect step of the bench plugin: one unit per (task, arm), run by lm-eval on the engine's model.

Each unit activates its arm's weights in the engine session (base loaded once, adapters and CRMA
switched in place), runs lm-eval with per-sample logging and turns the samples into bench records.
Results are cached under a key of everything that changes an answer (docs/results.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from crma_eval import (
    CollectContext,
    InputError,
    Unit,
    base_model_fingerprint,
    iter_records,
    library_versions,
    tasks_dir,
    write_records,
)
from crma_eval.plugins.bench.lmeval import (
    TaskLoadError,
    evaluate,
    group_memberships,
    lm_eval_output_to,
    load_tasks,
    prepare_environment,
    task_fingerprint,
    task_label,
)
from crma_eval.plugins.bench.options import (
    BenchArm,
    BenchOptions,
    load_options,
    option_error,
    resolve_adapter,
    resolve_checkpoint,
    task_spec,
)
from crma_eval.plugins.bench.records import UNSCORED_KIND
from crma_eval.plugins.bench.samples import sample_records, unscored_documents

PLUGIN = "bench"
CACHE_SCHEMA = "crma-eval/bench-cache/3"  # 2: few-shot documents, groups, weights; 3: unscored
NO_CHECKPOINT = "none"
LM_EVAL_LOG = "logs/lm-eval.log"  # lm-eval's own console output, inside the run directory
UNSCORED_LOG = "logs/bench-unscored.jsonl"  # documents that could not be scored, with the reason


def default_cache_dir() -> Path:
    """`$CRMA_EVAL_CACHE/bench`, else `~/.cache/crma_eval/bench`."""
    root = os.environ.get("CRMA_EVAL_CACHE") or Path.home() / ".cache" / "crma_eval"
    return Path(root) / "bench"


class BenchCollector:
    """Runs lm-eval tasks for each configured arm over the shared engine session."""

    def units(self, ctx: CollectContext) -> list[Unit]:
        """One unit per (arm, task); options and arm checkpoints are checked here."""
        opts = load_options(ctx.config)
        units = []
        for index, arm in enumerate(opts.arms):
            ckpt = resolve_checkpoint(ctx.config, arm, index, ctx.checkpoints)
            resolve_adapter(ctx.config, arm, index, ckpt)
            if arm.crma and ckpt is not None and ckpt.manifest.crma is None:
                raise option_error(
                    ctx.config,
                    f"arm {arm.name!r} asks for CRMA but checkpoint {ckpt.id} has no crma: block"
                    f" ({ckpt.manifest_path}); set crma: false",
                    ("arms", index, "crma"),
                )
            ckpt_id = NO_CHECKPOINT if ckpt is None else ckpt.id
            units += [Unit(PLUGIN, ckpt_id, arm.name, task) for task in opts.tasks]
        return units

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """bench records of one task under one arm (from the cache when nothing changed)."""
        opts = load_options(ctx.config)
        index, arm = next((i, a) for i, a in enumerate(opts.arms) if a.name == unit.arm)
        ckpt = resolve_checkpoint(ctx.config, arm, index, ctx.checkpoints)
        domain = resolve_adapter(ctx.config, arm, index, ckpt)
        prepare_environment(opts.offline)
        include = tuple(dict.fromkeys([str(tasks_dir()), *map(str, opts.include_path)]))
        try:
            with lm_eval_output_to(ctx.run_dir.path / LM_EVAL_LOG):
                loaded, manager = load_tasks(task_spec(ctx.config, unit.domain), include)
        except TaskLoadError as exc:
            raise option_error(
                ctx.config, str(exc), ("tasks", opts.tasks.index(unit.domain))
            ) from None
        label = task_label(unit.domain, loaded)
        batch_size = opts.batch_size or ctx.config.engine.batch_size
        key = cache_key(ctx, opts, arm, ckpt, domain, unit.domain, loaded, batch_size)
        ckpt_id = None if ckpt is None else ckpt.id
        cached = read_cache(opts, key, arm.name, ckpt_id)
        if cached is not None:
            log_unscored(ctx.run_dir.path / UNSCORED_LOG, cached)
            return cached
        session: Any = ctx.session()  # lm-eval needs an EngineSession: .model, .tokenizer
        activate(session, ckpt, domain, arm.crma, ctx.checkpoints)
        # a task is a long unit: LoRA merged (weights restored after); lm-eval's output to a log
        with session.merged(), lm_eval_output_to(ctx.run_dir.path / LM_EVAL_LOG):
            samples = evaluate(session.model, session.tokenizer, loaded, manager, opts, batch_size)
        groups = group_memberships(loaded)
        records = sample_records(samples, label, arm.name, ckpt_id, loaded["tasks"], groups)
        if not records:
            raise option_error(
                ctx.config,
                f"task {unit.domain!r} produced no numeric per-document metric",
                ("tasks", opts.tasks.index(unit.domain)),
            )
        records += unscored_documents(samples, label, arm.name, ckpt_id)
        write_cache(opts, key, records)
        log_unscored(ctx.run_dir.path / UNSCORED_LOG, records)
        return records


def log_unscored(path: Path, records: list[dict[str, Any]]) -> None:
    """Append the documents a unit could not score (its `bench_unscored` records, one JSON line
    each: task, arm, subtask, doc_id, reason); the rest goes on."""
    rows = [
        {k: r.get(k) for k in ("task", "arm", "subtask", "doc_id", "reason")}
        for r in records
        if r.get("kind") == UNSCORED_KIND.name
    ]
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps(row, sort_keys=True) + "\n")


def activate(session: Any, ckpt: Any, domain: str | None, crma: bool, known: list[Any]) -> None:
    """Switch the session to the arm's weights; the base arm is any checkpoint with nothing on."""
    if ckpt is None:
        anchor = known[0] if known else None
        session.activate(anchor, None, False)
    else:
        session.activate(ckpt, domain, crma)


def _base_model(ctx: CollectContext, ckpt: Any) -> str | None:
    if ckpt is not None:
        return str(ckpt.base_model)
    if ctx.config.base_model:
        return str(ctx.config.base_model)
    return str(ctx.checkpoints[0].base_model) if ctx.checkpoints else None


def _base_identity(base: str | None) -> str | None:
    """The base model's content identity (crma_eval.checkpoint.basemodel), None without one."""
    return None if base is None else base_model_fingerprint(base)


def cache_key(
    ctx: CollectContext,
    opts: BenchOptions,
    arm: BenchArm,
    ckpt: Any,
    domain: str | None,
    spec: str,
    loaded: dict[str, Any],
    batch_size: int,
) -> str:
    """Hash of everything that changes the answers of one unit (the arm's name does not)."""
    has_crma = ckpt is not None and arm.crma and ckpt.manifest.crma is not None
    parts = {
        "schema": CACHE_SCHEMA,
        "versions": library_versions(),
        "base_model": _base_identity(_base_model(ctx, ckpt)),
        "adapter": None if domain is None else ckpt.content_hash(f"adapter:{domain}"),
        "crma": ckpt.content_hash("crma") if has_crma else None,
        "engine": ctx.config.engine.identity(),
        "task": spec,
        "tasks": task_fingerprint(loaded),
        "limit": opts.limit,
        "num_fewshot": opts.num_fewshot,
        "fewshot_seed": opts.fewshot_seed,
        "gen_kwargs": opts.gen_kwargs,
        "max_length": opts.max_length,
        "batch_size": batch_size,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _cache_path(opts: BenchOptions, key: str) -> Path | None:
    if not opts.cache:
        return None
    return (opts.cache_dir or default_cache_dir()) / f"{key}.jsonl"


def read_cache(
    opts: BenchOptions, key: str, arm: str, checkpoint: str | None
) -> list[dict[str, Any]] | None:
    """Cached records of a unit, relabelled with this arm and checkpoint; None on a miss."""
    path = _cache_path(opts, key)
    if path is None or not path.exists():
        return None
    try:
        rows = list(iter_records(path))
    except InputError:  # a damaged cache entry is a miss, not bad input
        return None
    drop = {"_file", "_line"}
    return [
        {k: v for k, v in r.items() if k not in drop} | {"arm": arm, "checkpoint": checkpoint}
        for r in rows
    ]


def write_cache(opts: BenchOptions, key: str, records: list[dict[str, Any]]) -> None:
    """Store a unit's records (atomic write)."""
    path = _cache_path(opts, key)
    if path is not None:
        write_records(path, records)
