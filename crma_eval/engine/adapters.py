"""LoRA adapters kept in one PeftModel: each distinct adapter (content hash) is loaded once.

Before loading, an adapter is checked against the base model (target modules present, LoRA
weight shapes matching the wrapped layers), so a misfit is a clear InputError on the manifest
line rather than a PEFT traceback or a half-injected model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from peft import PeftModel
from peft.tuners.tuners_utils import BaseTunerLayer
from peft.utils.other import AuxiliaryTrainingWrapper
from safetensors import safe_open
from torch import nn

from crma_eval.checkpoint.adapter_config import (
    AdapterConfigError,
    read_adapter_config,
    targets_missing,
)

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint

LORA_KEY = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$"
)


def adapter_misfit(base: nn.Module, folder: Path) -> str | None:
    """Why the adapter in `folder` does not fit `base` (bad config, absent targets, shape
    mismatch), or None. The config is validated as untrusted (`read_adapter_config`)."""
    try:
        config = read_adapter_config(folder / "adapter_config.json")
    except AdapterConfigError as exc:
        return str(exc)
    modules = dict(base.named_modules())
    problem = targets_missing(config, set(modules))
    if problem is not None:
        return problem
    with safe_open(str(folder / "adapter_model.safetensors"), framework="numpy") as fh:
        for key in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
            match = LORA_KEY.match(key)
            if match is None:
                continue
            module = modules.get(match["module"])
            if module is None:
                return f"LoRA weight {key} targets {match['module']}, absent in the base model"
            shape = fh.get_slice(key).get_shape()
            if not hasattr(module, "in_features") or len(shape) != 2:
                continue
            side, want = (1, module.in_features) if match["ab"] == "A" else (0, module.out_features)
            if shape[side] != want:
                return (
                    f"LoRA weight {key} has shape {list(shape)}, which does not fit "
                    f"{match['module']} ({module.in_features} -> {module.out_features})"
                )
    return None


class AdapterBank:
    """Adapters loaded into one PeftModel under names derived from their content hash."""

    def __init__(self, base: nn.Module) -> None:
        self.base = base
        self.peft: PeftModel | None = None
        self.names: dict[str, str] = {}
        self.loads = 0
        self.active: str | None = None
        self._current: str | None = None  # PEFT's active adapter (may be disabled)
        self._enabled = False
        self._dirty = False  # after a load: newly wrapped layers may not share the on/off state
        self._layers: list[Any] = []  # every LoRA layer (rebuilt after a load)
        self._flags_only = True  # no auxiliary wrappers: switching is setting layer flags

    @property
    def model(self) -> nn.Module:
        """The live model: the PeftModel once an adapter is loaded, else the base model."""
        return self.peft if self.peft is not None else self.base

    def activate(self, checkpoint: Checkpoint, domain: str | None) -> str | None:
        """Switch to `domain`'s adapter of `checkpoint` (None: adapters off); returns its name."""
        if domain is None:
            self.switch(None)
            return None
        folder = checkpoint.adapter_path(domain)
        if folder is None:
            raise checkpoint.error(f"no adapter for domain {domain!r}", ("adapters",))
        key = checkpoint.content_hash(f"adapter:{domain}")
        name = self.names.get(key) or self._load(checkpoint, domain, folder, key)
        self.switch(name)
        return name

    def switch(self, name: str | None) -> None:
        """Make the loaded adapter `name` live (None: all off), changing only what differs.

        PEFT's `set_adapter` visits every module and sets `requires_grad` on every loaded
        adapter's weights, so its cost grows with the number loaded. For inference only the
        layers' active-adapter and disabled flags matter; those are set directly on the cached
        list of LoRA layers (flat in the number loaded; logits identical to `set_adapter`).
        Models with auxiliary wrappers (`modules_to_save`) take PEFT's own path.
        """
        if self.peft is None:
            return
        if self._dirty:
            self._refresh_layers()
        enable = name is not None
        if self._dirty or enable != self._enabled or (enable and name != self._current):
            if not self._flags_only:
                self._switch_with_peft(name)
            else:
                for layer in self._layers:
                    layer._disable_adapters = not enable
                    if name is not None:
                        layer._active_adapter = [name]
                if name is not None:
                    tuner: Any = self.peft.base_model
                    tuner.active_adapter = name
            self._enabled = enable
            self._current = name if name is not None else self._current
        self._dirty = False
        self.active = name

    def _switch_with_peft(self, name: str | None) -> None:
        peft: Any = self.peft
        if name is None:
            peft.base_model.disable_adapter_layers()
            return
        peft.base_model.enable_adapter_layers()
        peft.set_adapter(name)

    def _refresh_layers(self) -> None:
        assert self.peft is not None
        modules = list(self.peft.modules())
        self._layers = [m for m in modules if isinstance(m, BaseTunerLayer)]
        self._flags_only = not any(isinstance(m, AuxiliaryTrainingWrapper) for m in modules)

    def merge_active(self) -> dict[Any, torch.Tensor]:
        """Merge the active adapter into the base weights; returns the weights it replaced.

        Give the result to `unmerge` to restore the base weights bit for bit (a copy of what
        merging changes is kept, so no subtraction and no rounding). While merged, the LoRA
        layers skip their adapter branch (PEFT's `merged` state).
        """
        name = self.active
        if self.peft is None or name is None:
            return {}
        saved: dict[Any, torch.Tensor] = {}
        for layer in self._layers:
            if name not in getattr(layer, "lora_A", {}) or layer.merged:
                continue
            base = layer.get_base_layer()
            saved[layer] = base.weight.detach().clone()
            if getattr(base, "bias", None) is not None:
                saved[base] = base.bias.detach().clone()
            layer.merge(adapter_names=[name])
        return saved

    def unmerge(self, saved: dict[Any, torch.Tensor]) -> None:
        """Restore the base weights saved by `merge_active` exactly and clear the merged state."""
        with torch.no_grad():
            for module, tensor in saved.items():
                if isinstance(module, BaseTunerLayer):
                    base: Any = module.get_base_layer()
                    base.weight.copy_(tensor)
                    module.merged_adapters = []
                else:
                    module.bias.copy_(tensor)

    def _load(self, checkpoint: Checkpoint, domain: str, folder: Path, key: str) -> str:
        loc = ("adapters", domain)
        problem = adapter_misfit(self.base, folder)
        if problem is not None:
            raise checkpoint.error(problem, loc)
        checkpoint.check_finite(checkpoint.adapter_file(domain, "adapter_model.safetensors"), loc)
        name = f"adapter_{len(self.names)}_{key[:12]}"
        try:
            if self.peft is None:
                self.peft = PeftModel.from_pretrained(self.base, str(folder), adapter_name=name)
                self.peft.eval()
                self._current, self._enabled = name, True
            else:
                self.peft.load_adapter(str(folder), adapter_name=name)
        except (ValueError, RuntimeError, KeyError, OSError) as exc:
            raise checkpoint.error(f"cannot load adapter: {exc}", loc) from None
        self.names[key] = name
        self.loads += 1
        self._dirty = True
        return name
