"""Checks on untrusted safetensors weight files (torch is imported only when called)."""

from __future__ import annotations

from pathlib import Path


def first_nonfinite(path: Path) -> str | None:
    """The name of the first floating-point tensor in a safetensors file holding NaN or ±inf,
    or None when every value is finite. Reads tensors one at a time (any dtype, bf16 included).

    Raises whatever safetensors raises for an unreadable file (callers report it as bad input).
    """
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        for name in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
            tensor = fh.get_tensor(name)
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                return name
    return None
