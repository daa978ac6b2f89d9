"""Spectral collector: the training log's spectral records, and a recomputation from the weights.

Log records come from `logs.spectral` (JSONL spectral records, or CSV with columns
step,phase,module,spectral_norm[,row_sum_err,col_sum_err,min_entry]) and carry `source: log`.
A log's `phase` may be a domain name or a phase number (1 = the first domain of the manifest's
`domain_order`, 0 = before training); numbers are mapped to names, so `phase` is always the
domain trained in that phase (`initial` before any).
The checkpoint's own mixing matrices are rebuilt from its CRMA weights and measured in float64
(`source: checkpoint`, step = the manifest's training step or 0, phase = last trained domain).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crma_eval import (
    SOURCE_COLUMNS,
    CollectContext,
    InputError,
    Unit,
    iter_records,
    validate_record,
)

if TYPE_CHECKING:
    from crma_eval import Checkpoint

CSV_REQUIRED = ("step", "phase", "module", "spectral_norm")


INITIAL = "initial"


def phase_name(value: str, domain_order: list[str], path: Path, line: int) -> str:
    """The domain name of a log phase: a name of `domain_order` (or `initial`) as is, a phase
    number k as the k-th domain (0: `initial`); anything else is an InputError."""
    if value in domain_order or value == INITIAL:
        return value
    text = value.strip()
    if text.isdigit() and int(text) <= len(domain_order):
        return domain_order[int(text) - 1] if int(text) else INITIAL
    raise InputError(
        f"phase {value!r} is neither a domain of domain_order {domain_order} nor a phase number"
        f" 0-{len(domain_order)}",
        path=path,
        line=line,
        field="phase",
    )


def _read_csv(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in CSV_REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"CSV lacks columns {missing}", path=path, line=1)
            rows = [(i, row) for i, row in enumerate(reader, start=2)]
    except csv.Error as exc:  # malformed CSV (e.g. an oversized field) is bad input, not a bug
        raise InputError(f"malformed CSV: {exc}", path=path, line=reader.reader.line_num) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable ({exc.__class__.__name__})", path=path) from None
    records = []
    for line, row in rows:
        clean = {k: v for k, v in row.items() if k and v not in (None, "")}
        records.append((line, validate_record({**clean, "kind": "spectral"}, path=path, line=line)))
    return records


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for record in iter_records(path):
        if record["kind"] != "spectral":
            raise InputError(
                f"expected spectral records, got {record['kind']!r}",
                path=path,
                line=record["_line"],
            )
        clean = {k: v for k, v in record.items() if k not in SOURCE_COLUMNS}
        records.append((record["_line"], clean))
    return records


def read_spectral_log(path: Path, domain_order: list[str]) -> list[dict[str, Any]]:
    """Validated spectral records of a JSONL or CSV training log, `phase` as a domain name of
    `domain_order` (errors name file and line)."""
    rows = _read_csv(path) if path.suffix == ".csv" else _read_jsonl(path)
    return [
        {**r, "phase": phase_name(str(r["phase"]), domain_order, path, line)} for line, r in rows
    ]


@cache
def _hidden_size(base_model: str, trust_remote_code: bool) -> int:
    from transformers import AutoConfig

    return int(
        AutoConfig.from_pretrained(base_model, trust_remote_code=trust_remote_code).hidden_size
    )


class SpectralCollector:
    """Per checkpoint: one unit for its spectral log (if any), one for its CRMA weights (if any)."""

    plugin = "spectral"

    def units(self, ctx: CollectContext) -> list[Unit]:
        """A `checkpoint` unit per checkpoint with CRMA weights; a `log` unit per training run.

        Training logs are cumulative, so a run's log is read from its latest checkpoint only
        (the checkpoints of one run share condition and seed).
        """
        latest: dict[Any, Any] = {}
        for ck in ctx.checkpoints:
            t = ck.manifest.training
            run = (t.condition, t.seed) if t else ck.id
            if ck.spectral_log_path is not None and (
                run not in latest or ck.phase > latest[run].phase
            ):
                latest[run] = ck
        units = [Unit(self.plugin, ck.id, "-", "log") for ck in latest.values()]
        units += [
            Unit(self.plugin, ck.id, "-", "checkpoint")
            for ck in ctx.checkpoints
            if ck.manifest.crma is not None
        ]
        return units

    def fingerprint_inputs(self, unit: Unit, ctx: CollectContext) -> dict[str, Any]:
        """Nothing beyond the checkpoint (its content hash covers the log and the weights)."""
        return {}

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """Spectral records of one checkpoint's log or weights."""
        ck = ctx.checkpoint(unit.checkpoint)
        log = ck.spectral_log_path
        if unit.domain == "log" and log is not None:  # units name "log" only when there is one
            rows = read_spectral_log(log, ck.manifest.domain_order)
            return [{**r, "checkpoint": ck.id, "source": "log"} for r in rows]
        from crma_eval import mixing_stats

        module = ck.build_crma(self._hidden_size(ck, ctx))
        step = ck.manifest.training.step if ck.manifest.training else None
        return [
            {
                "kind": "spectral",
                "step": step or 0,
                "phase": ck.last_domain or INITIAL,
                "module": name,
                **mixing_stats(matrix),
                "checkpoint": ck.id,
                "source": "checkpoint",
            }
            for name, matrix in module.mixing_matrices().items()
        ]

    @staticmethod
    def _hidden_size(ck: Checkpoint, ctx: CollectContext) -> int:
        base = ctx.config.base_model or ck.base_model
        try:
            return _hidden_size(base, ctx.config.engine.trust_remote_code)
        except (OSError, ValueError, AttributeError) as exc:
            raise ck.error(f"cannot read the base model's config: {exc}", ("base_model",)) from None
