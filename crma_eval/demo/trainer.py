"""Sequential LoRA training of the demo model under the three conditions of the CRMA paper.

NAIVE: one shared LoRA adapter trained through all domains. FROZEN: a fresh LoRA per domain, the
backbone and earlier adapters frozen. MODULAR: FROZEN plus a shared reference CRMA module
(Sinkhorn mixing) that every adapter is trained through. The demo fixes the module (logits
CRMA_LOGIT × a cyclic group shift, so the mixing is a near-permutation doubly stochastic matrix,
σ_max = 1, behind a fixed gate tanh = crma_gate on the first decoder layer): the adapters co-adapt
to it from phase 1, so it carries function they rely on (the seed paper's access mechanism), and
bypassing it at inference removes a transformation they depend on. A trainable module drifts back
towards the identity mixing and the ablation then shows nothing. After each phase a checkpoint
folder in the `crma-checkpoint/1` manifest format is written. Every number comes out of the
training itself.
"""

from __future__ import annotations

import copy
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import PreTrainedModel

from crma_eval.checkpoint import write_manifest
from crma_eval.checkpoint.sinkhorn import SinkhornCRMA
from crma_eval.plugins.spectral.hooks import log_spectral

CONDITIONS: tuple[str, ...] = ("naive", "frozen", "modular")
IGNORE = -100
CRMA_LOGIT = 6.0  # Sinkhorn logits = CRMA_LOGIT × cyclic shift: off-shift entries ≈ 2.5e-3


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of the demo (steps, batch, learning rates, LoRA and CRMA shape)."""

    pretrain_steps: int
    phase_steps: int
    batch_size: int = 32
    lr_pretrain: float = 3e-3
    lr_lora: float = 1e-2
    lora_rank: int = 8
    lora_targets: str = "all-linear"  # PEFT target_modules: "all-linear" or a name regex
    spectral_every: int = 5
    crma_k: int = 4
    sinkhorn_iters: int = 30
    crma_layers: tuple[int, ...] = (0,)  # decoder layers whose output CRMA mixes
    crma_gate: float = 0.5  # fixed tanh(gate) of the mixing


@dataclass(frozen=True)
class RunSpec:
    """One sequential run: a condition and seed over the domains, checkpoints under `out`."""

    condition: str
    seed: int
    domains: tuple[str, ...]
    base_path: Path
    out: Path

    @property
    def spectral_log(self) -> Path:
        """The run's whole spectral log; each checkpoint gets a copy of it as it stands."""
        return self.out.parent / "logs" / f"{self.condition}-seed{self.seed}-spectral.jsonl"


def batches(
    seqs: list[torch.Tensor], batch_size: int, pad_id: int, gen: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless shuffled epochs of right-padded (input_ids, attention_mask, labels) batches."""
    while True:
        order = torch.randperm(len(seqs), generator=gen).tolist()
        for start in range(0, len(order), batch_size):
            chunk = [seqs[i] for i in order[start : start + batch_size]]
            width = max(len(s) for s in chunk)
            ids = torch.full((len(chunk), width), pad_id)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, seq in enumerate(chunk):
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            yield ids, mask, ids.masked_fill(mask == 0, IGNORE)


@dataclass
class StepStats:
    """Outcome of optimiser steps: last batch loss, and per parameter group the skipped updates."""

    loss: float = float("nan")
    skipped: dict[str, int] = field(default_factory=dict)


def _drop_nonfinite(groups: list[dict[str, Any]], stats: StepStats) -> None:
    """Drop the update of a group whose gradient is not finite (as AMP's GradScaler skips steps).

    One bad gradient would otherwise turn the group's weights into NaN through AdamW's moments.
    """
    for group in groups:
        grads = [p.grad for p in group["params"] if p.grad is not None]
        if not all(torch.isfinite(g).all() for g in grads):
            for param in group["params"]:
                param.grad = None
            stats.skipped[group["name"]] = stats.skipped.get(group["name"], 0) + 1


def train_steps(
    model: nn.Module,
    groups: list[dict[str, Any]],
    data: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    steps: int,
    on_step: Callable[[], None] | None = None,
) -> StepStats:
    """Run `steps` AdamW steps over named parameter groups ({"name", "params", "lr"})."""
    optimiser = torch.optim.AdamW(groups, weight_decay=0.0)
    stats = StepStats()
    model.train()
    for _ in range(steps):
        ids, mask, labels = next(data)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        _drop_nonfinite(groups, stats)
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        stats.loss = float(loss.detach())
        if on_step is not None:
            on_step()
    model.eval()
    return stats


def pretrain(
    model: PreTrainedModel, seqs: list[torch.Tensor], settings: TrainSettings, seed: int
) -> StepStats:
    """Fully train the fresh base model on the generic mix of all domains (a 'base LM')."""
    gen = torch.Generator().manual_seed(seed)
    data = batches(seqs, settings.batch_size, model.config.pad_token_id, gen)
    groups = [{"name": "base", "params": list(model.parameters()), "lr": settings.lr_pretrain}]
    return train_steps(model, groups, data, settings.pretrain_steps)


def fixed_crma(hidden_size: int, settings: TrainSettings) -> SinkhornCRMA:
    """A frozen SinkhornCRMA on `settings.crma_layers`: logits CRMA_LOGIT × the cyclic shift of
    the k groups (a near-permutation after Sinkhorn), gate atanh(`settings.crma_gate`)."""
    crma = SinkhornCRMA(
        hidden_size=hidden_size,
        layers=list(settings.crma_layers),
        k=settings.crma_k,
        sinkhorn_iters=settings.sinkhorn_iters,
    )
    shift = torch.roll(torch.eye(settings.crma_k), 1, dims=1)
    with torch.no_grad():
        for layer in crma.layer_ids:
            crma.logits[str(layer)].copy_(CRMA_LOGIT * shift)
            crma.gate[str(layer)].fill_(math.atanh(settings.crma_gate))
    return crma.requires_grad_(False)


class SequentialRun:
    """The live state of one run: the PEFT model, the optional CRMA module and the logs."""

    def __init__(self, spec: RunSpec, base: PreTrainedModel, settings: TrainSettings) -> None:
        self.spec, self.settings = spec, settings
        self.base = copy.deepcopy(base).requires_grad_(False)
        self.model: PeftModel | None = None
        self.crma: SinkhornCRMA | None = None
        self.crma_layers = list(settings.crma_layers)
        self.history: list[StepStats] = []
        self.step = 0

    def _lora_config(self) -> LoraConfig:
        rank = self.settings.lora_rank
        return LoraConfig(
            r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=self.settings.lora_targets
        )

    @property
    def peft(self) -> PeftModel:
        """The PEFT model, created with the first phase's adapter."""
        if self.model is None:
            raise RuntimeError("no adapter yet: the first phase creates the PEFT model")
        return self.model

    def _adapter_for(self, domain: str) -> str:
        """Create (or reuse, for NAIVE) the adapter trained in this domain's phase."""
        name = "shared" if self.spec.condition == "naive" else domain
        if self.model is None:
            self.model = get_peft_model(self.base, self._lora_config(), adapter_name=name)
        elif name not in self.model.peft_config:
            self.model.add_adapter(name, self._lora_config())
        self.model.set_adapter(name)
        return name

    def _crma(self) -> SinkhornCRMA:
        """The fixed CRMA module (created and attached on first use, then frozen)."""
        if self.crma is None:
            self.crma = fixed_crma(self.base.config.hidden_size, self.settings).attach(self.peft)
        return self.crma

    def _param_groups(self, adapter: str) -> list[dict[str, Any]]:
        """Only the current adapter is trainable (MODULAR trains it through the fixed CRMA)."""
        assert self.model is not None
        lora = []
        for name, param in self.model.named_parameters():
            param.requires_grad_("lora_" in name and f".{adapter}." in name)
            if param.requires_grad:
                lora.append(param)
        if self.spec.condition == "modular":
            self._crma()  # on from phase 1; its parameters stay frozen
        return [{"name": "lora", "params": lora, "lr": self.settings.lr_lora}]

    def train_phase(self, phase: int, seqs: list[torch.Tensor]) -> StepStats:
        """Train the adapter of domain `phase` (1-based) on its sequences."""
        domain = self.spec.domains[phase - 1]
        torch.manual_seed(self.spec.seed * 1000 + phase)
        groups = self._param_groups(self._adapter_for(domain))
        gen = torch.Generator().manual_seed(self.spec.seed * 1000 + phase)
        data = batches(seqs, self.settings.batch_size, self.base.config.pad_token_id, gen)

        def step_hook() -> None:
            self.step += 1
            if self.crma is not None and self.step % self.settings.spectral_every == 0:
                log_spectral(self.crma, self.step, domain, self.spec.spectral_log)

        if self.crma is not None:
            log_spectral(self.crma, self.step, domain, self.spec.spectral_log)
        stats = train_steps(self.peft, groups, data, self.settings.phase_steps, step_hook)
        self.history.append(stats)
        return stats

    def _manifest(self, phase: int) -> dict[str, Any]:
        spec = self.spec
        shared = spec.condition == "naive"
        return {
            "format": "crma-checkpoint/1",
            "base_model": str(spec.base_path.resolve()),
            "domain_order": list(spec.domains),
            "adapters": {d: f"adapters/{'shared' if shared else d}" for d in spec.domains[:phase]},
            "router": {"encoder": "base_mean_pool", "weights": "router.safetensors"},
            "training": {
                "condition": spec.condition,
                "seed": spec.seed,
                "phase": phase,
                "step": self.step,
                "final_train_loss": self.history[-1].loss,
                "skipped_updates": {
                    name: sum(h.skipped.get(name, 0) for h in self.history)
                    for name in sorted({n for h in self.history for n in h.skipped})
                },
                "settings": asdict(self.settings),
            },
        }

    def _write_crma(self, folder: Path, manifest: dict[str, Any]) -> None:
        """CRMA weights and the spectral log so far (MODULAR only)."""
        assert self.crma is not None
        self.crma.save(folder / "crma.safetensors")
        (folder / "logs").mkdir()
        shutil.copyfile(self.spec.spectral_log, folder / "logs" / "spectral.jsonl")
        manifest["crma"] = {
            "implementation": "sinkhorn",
            "config": {
                "layers": self.crma_layers,
                "k": self.settings.crma_k,
                "sinkhorn_iters": self.settings.sinkhorn_iters,
            },
            "weights": "crma.safetensors",
        }
        manifest["logs"] = {"spectral": "logs/spectral.jsonl"}

    def write_checkpoint(self, phase: int, router: Path) -> Path:
        """Write the checkpoint folder of the state after `phase` domains."""
        assert self.model is not None
        folder = self.spec.out / f"{self.spec.condition}-seed{self.spec.seed}-phase{phase}"
        shutil.rmtree(folder, ignore_errors=True)
        manifest = self._manifest(phase)
        names = sorted({Path(rel).name for rel in manifest["adapters"].values()})
        self.model.save_pretrained(str(folder / "adapters"), selected_adapters=names)
        (folder / "adapters" / "README.md").unlink(missing_ok=True)
        shutil.copyfile(router, folder / "router.safetensors")
        if self.crma is not None:
            self._write_crma(folder, manifest)
        write_manifest(folder, manifest)
        return folder


def run_sequence(
    spec: RunSpec,
    base: PreTrainedModel,
    train_seqs: dict[str, list[torch.Tensor]],
    routers: dict[int, Path],
    settings: TrainSettings,
    on_phase: Callable[[], None] = lambda: None,
) -> list[Path]:
    """Train one condition/seed through all domains; return its checkpoint folder per phase."""
    if spec.condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {spec.condition!r}")
    run = SequentialRun(spec, base, settings)
    spec.spectral_log.unlink(missing_ok=True)
    folders = []
    for phase, domain in enumerate(spec.domains, start=1):
        run.train_phase(phase, train_seqs[domain])
        folders.append(run.write_checkpoint(phase, routers[phase]))
        on_phase()
    return folders
