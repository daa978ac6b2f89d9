"""Test-wide settings: no network for Hugging Face libraries, a non-interactive matplotlib.

The fast suite (`make test-fast`, `pytest -m "not slow"`) is the suite without the model stack:
while it runs, importing torch, transformers, peft, accelerate or ray fails, so a fast test that
needs them (a model, a tensor, a cluster) fails loudly and must be marked `slow`. A module whose
`pytestmark` marks it slow as a whole is not even imported by the fast suite.
"""

from __future__ import annotations

import importlib.abc
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

FAST = "not slow"
MODEL_STACK = frozenset({"torch", "transformers", "peft", "accelerate", "ray"})
_SLOW_MODULE = re.compile(r"^pytestmark\s*=.*\bpytest\.mark\.slow\b", re.MULTILINE)


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
    return str(config.getoption("markexpr", "")).strip() == FAST


def pytest_configure(config: pytest.Config) -> None:
    if _fast(config) and not any(m in sys.modules for m in MODEL_STACK):
        sys.meta_path.insert(0, _NoModelStack())


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the fast suite, skip modules marked slow as a whole (they import the model stack)."""
    name = collection_path.name
    if _fast(config) and name.startswith("test_") and name.endswith(".py"):
        return bool(_SLOW_MODULE.search(collection_path.read_text(encoding="utf-8"))) or None
    return None
