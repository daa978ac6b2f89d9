"""Reference CRMA module: a residual mixing block whose mixing matrix is doubly stochastic.

Sinkhorn iterations run in the log domain (float64) and end with a row then a column
normalisation. Because Sinkhorn converges slowly when the logits are large, the result is then
rounded onto the Birkhoff polytope exactly (Altschuler, Weed & Rigollet 2017, Algorithm 2), so
every forward pass sees a non-negative matrix with unit row and column sums, hence σ_max = 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def round_to_doubly_stochastic(p: torch.Tensor) -> torch.Tensor:
    """Nearest-by-construction doubly stochastic matrix to a non-negative `p` (AWR rounding)."""
    x = p * torch.clamp(1.0 / p.sum(1, keepdim=True), max=1.0)
    x = x * torch.clamp(1.0 / x.sum(0, keepdim=True), max=1.0)
    err_r = (1.0 - x.sum(1)).clamp_min(0.0)  # non-negative in exact arithmetic
    err_c = (1.0 - x.sum(0)).clamp_min(0.0)
    total = err_r.sum().clamp_min(torch.finfo(x.dtype).tiny)
    # The correction only mops up rounding-level error; its own gradient can blow up when every
    # row error clamps to 0 (division by `tiny`), so gradients flow through `x` alone.
    return x + (torch.outer(err_r, err_c) / total).detach()


def sinkhorn(logits: torch.Tensor, iters: int = 30) -> torch.Tensor:
    """Doubly stochastic matrix from square `logits` (float64): log-domain Sinkhorn + rounding."""
    la = logits.to(torch.float64)
    for _ in range(iters):
        la = la - torch.logsumexp(la, dim=1, keepdim=True)
        la = la - torch.logsumexp(la, dim=0, keepdim=True)
    return round_to_doubly_stochastic(la.exp())


def mixing_stats(matrix: torch.Tensor) -> dict[str, float]:
    """σ_max (float64 2-norm), worst row/column sum error and smallest entry of a mixing matrix."""
    m = matrix.detach().to(torch.float64).cpu()
    return {
        "spectral_norm": float(torch.linalg.matrix_norm(m, ord=2)),
        "row_sum_err": float((m.sum(1) - 1.0).abs().max()),
        "col_sum_err": float((m.sum(0) - 1.0).abs().max()),
        "min_entry": float(m.min()),
    }


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layer list of a causal LM, looking through PEFT and other wrappers."""
    for module in model.modules():
        layers = getattr(module, "layers", None)
        if isinstance(layers, nn.ModuleList) and len(layers) > 0:
            return layers
    raise ValueError(f"cannot find decoder layers in {type(model).__name__}")


class SinkhornCRMA(nn.Module):
    """Per chosen layer, a k×k Sinkhorn mixing matrix across k hidden groups behind a tanh gate."""

    def __init__(
        self, hidden_size: int, layers: list[int], k: int = 4, sinkhorn_iters: int = 30
    ) -> None:
        super().__init__()
        if hidden_size % k:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by k={k}")
        self.hidden_size = hidden_size
        self.layer_ids = [int(i) for i in layers]
        self.k = k
        self.sinkhorn_iters = sinkhorn_iters
        self.logits = nn.ParameterDict(
            {str(i): nn.Parameter(torch.zeros(k, k)) for i in self.layer_ids}
        )
        self.gate = nn.ParameterDict(
            {str(i): nn.Parameter(torch.zeros(())) for i in self.layer_ids}
        )
        self._handles: list[Any] = []
        self._cache: dict[int, tuple[Any, torch.Tensor]] = {}
        self._bypass = False

    def mixing_matrix(self, layer: int) -> torch.Tensor:
        """The doubly stochastic matrix of one layer (float64, differentiable with grad enabled).

        Without gradients the matrix is cached until the logits change (their version counter
        moves on every in-place update: optimizer steps, `load`), so generation does not rerun
        Sinkhorn at every token.
        """
        logits = self.logits[str(layer)]
        if torch.is_grad_enabled():
            return sinkhorn(logits, self.sinkhorn_iters)
        key = (logits._version, logits.data_ptr(), logits.device)
        cached = self._cache.get(layer)
        if cached is None or cached[0] != key:
            cached = (key, sinkhorn(logits.detach(), self.sinkhorn_iters))
            self._cache[layer] = cached
        return cached[1]

    def mixing_matrices(self) -> dict[str, torch.Tensor]:
        """Every mixing matrix by name (`layers.<i>.mix`), detached, float64."""
        return {f"layers.{i}.mix": self.mixing_matrix(i).detach() for i in self.layer_ids}

    def mix(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        """Residual mixing of a hidden state [..., H]: h + tanh(gate) * (M·groups(h) − h)."""
        m = self.mixing_matrix(layer).to(device=hidden.device, dtype=hidden.dtype)
        groups = hidden.unflatten(-1, (self.k, -1))
        mixed = torch.einsum("ij,...jd->...id", m, groups).flatten(-2)
        gate = torch.tanh(self.gate[str(layer)]).to(device=hidden.device, dtype=hidden.dtype)
        return hidden + gate * (mixed - hidden)

    def _hook(self, layer: int) -> Any:
        def hook(_module: nn.Module, _args: Any, output: Any) -> Any:
            if self._bypass:
                return None
            if isinstance(output, tuple):
                return (self.mix(layer, output[0]), *output[1:])
            return self.mix(layer, output)

        return hook

    def attach(self, model: nn.Module) -> SinkhornCRMA:
        """Register forward hooks on the chosen decoder layers of `model` (PEFT-wrapped or not)."""
        self.detach()
        layers = decoder_layers(model)
        for i in self.layer_ids:
            if not 0 <= i < len(layers):
                raise ValueError(f"CRMA layer {i} out of range (model has {len(layers)} layers)")
            self._handles.append(layers[i].register_forward_hook(self._hook(i)))
        return self

    def detach(self) -> None:
        """Remove every hook this module registered."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def bypass(self, flag: bool) -> None:
        """When True, hooks leave layer outputs untouched (bit-for-bit base path)."""
        self._bypass = bool(flag)

    @contextmanager
    def bypassed(self) -> Iterator[SinkhornCRMA]:
        """Bypass within a `with` block, restoring the previous state after."""
        previous = self._bypass
        self._bypass = True
        try:
            yield self
        finally:
            self._bypass = previous

    def save(self, path: str | Path) -> None:
        """Write the parameters as safetensors."""
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata={"format": "crma-sinkhorn/1", "k": str(self.k)})

    def load(self, path: str | Path) -> SinkhornCRMA:
        """Load parameters from safetensors (strict: names and shapes must match)."""
        state = load_file(str(path))
        self.load_state_dict(state, strict=True)
        return self
