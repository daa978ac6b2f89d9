"""The model engine: one base model per session, adapters and CRMA switched without reloading.

`EngineSession` (transformers + PEFT, imports torch) is loaded on first use, so the fake session
`crma_eval.engine.fake.FakeSession` imports without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crma_eval.engine.session import Active, EngineSession

__all__ = ["Active", "EngineSession"]


def __getattr__(name: str) -> Any:
    """Load `Active` and `EngineSession` from crma_eval.engine.session on first use (PEP 562)."""
    if name not in __all__:
        raise AttributeError(f"module 'crma_eval.engine' has no attribute {name!r}")
    return getattr(importlib.import_module("crma_eval.engine.session"), name)
