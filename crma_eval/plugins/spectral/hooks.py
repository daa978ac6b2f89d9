"""Training-time spectral logging: append `spectral` records of a CRMA module every N steps.

`log_spectral` works with any CRMA implementation that has `mixing_matrices()`; the
`SpectralLogCallback` calls it from a transformers Trainer. The log is JSON Lines in the record
format of docs/records.md, ready to be named as `logs.spectral` in a checkpoint manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from crma_eval import mixing_stats, record_json


def spectral_records(crma_module: Any, step: int, phase: str) -> list[dict[str, Any]]:
    """One `spectral` record per mixing matrix of `crma_module` at this step and phase."""
    return [
        {"kind": "spectral", "step": int(step), "phase": phase, "module": name, **mixing_stats(m)}
        for name, m in crma_module.mixing_matrices().items()
    ]


def log_spectral(crma_module: Any, step: int, phase: str, path: str | Path) -> list[dict[str, Any]]:
    """Append this step's spectral records to the JSONL file at `path`; return them."""
    records = spectral_records(crma_module, step, phase)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(record_json(r) + "\n" for r in records))
    return records


class SpectralLogCallback(TrainerCallback):
    """Trainer callback logging the CRMA mixing matrices every `every` optimizer steps."""

    def __init__(self, crma_module: Any, path: str | Path, phase: str, every: int = 5) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.crma_module = crma_module
        self.path = Path(path)
        self.phase = phase
        self.every = every

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Log when the global step is a multiple of `every`."""
        if state.global_step % self.every == 0:
            log_spectral(self.crma_module, state.global_step, self.phase, self.path)
        return control
