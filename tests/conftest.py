"""Test-wide settings: no network for Hugging Face libraries, a non-interactive matplotlib.

The fast suite (`make test-fast`; any `-m` expression that selects no slow test, see
tests/fastsuite.py) is the suite without the model stack: while it runs, importing torch,
transformers, peft, accelerate or ray fails, so a fast test that needs them (a model, a tensor, a
cluster) fails loudly and must be marked `slow`. A module whose top-level `pytestmark` marks it
slow as a whole is not even imported by the fast suite.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest
from fastsuite import deselects_slow, marked_slow_as_a_whole

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

MODEL_STACK = frozenset({"torch", "transformers", "peft", "accelerate", "ray"})


class _NoModelStack(importlib.abc.MetaPathFinder):
    """Refuses the model stack, as if it were not installed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname.partition(".")[0] in MODEL_STACK:
            raise ModuleNotFoundError(
                f"{fullname} is not available in the fast suite: mark the test `slow`",
                name=fullname,
            )
        return None


def _fast(config: pytest.Config) -> bool:
    return deselects_slow(str(config.getoption("markexpr", "") or ""))


class _NotImported(pytest.Module):
    """A module marked slow as a whole, in the fast suite: never imported, so it collects
    nothing (even when named on the command line) instead of failing on the model stack."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


def pytest_configure(config: pytest.Config) -> None:
    if _fast(config) and not any(m in sys.modules for m in MODEL_STACK):
        sys.meta_path.insert(0, _NoModelStack())


def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    """In the fast suite, modules marked slow as a whole are not imported (they need the model
    stack)."""
    if _fast(parent.config) and marked_slow_as_a_whole(module_path.read_text(encoding="utf-8")):
        return _NotImported.from_parent(parent, path=module_path)
    return None
