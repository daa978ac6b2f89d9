"""The model engine: one base model per session, adapters and CRMA switched without reloading."""

from crma_eval.engine.session import Active, EngineSession

__all__ = ["Active", "EngineSession"]
