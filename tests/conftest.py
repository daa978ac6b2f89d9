"""Test-wide settings: no network for Hugging Face libraries, a non-interactive matplotlib.

The fast suite (`make test-fast`; any `-m` expression that selects no slow test, see
tests/fastsuite.py) is the suite without the model stack: while it runs, importing torch,
transformers, peft, accelerate or ray fails, so a fast test that needs them (a model, a tensor, a
cluster) fails loudly and must be marked `slow`. A module whose top-level `pytestmark` marks it
slow as a whole is not even imported by the fast suite.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fastsuite import MODEL_STACK, NoModelStack, deselects_slow, marked_slow_as_a_whole

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


def _fast(config: pytest.Config) -> bool:
    return deselects_slow(str(config.getoption("markexpr", "") or ""))


class _NotImported(pytest.Module):
    """A module marked slow as a whole, in the fast suite: never imported, so it collects
    nothing (even when named on the command line) instead of failing on the model stack."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


def pytest_configure(config: pytest.Config) -> None:
    if _fast(config) and not any(m in sys.modules for m in MODEL_STACK):
        sys.meta_path.insert(0, NoModelStack())


def pytest_report_header(config: pytest.Config) -> str | None:
    if _fast(config):
        blocked = ", ".join(sorted(MODEL_STACK))
        return f"fast suite: {blocked} refused on import (a test that needs them: mark it slow)"
    return None


def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    """In the fast suite, modules marked slow as a whole are not imported (they need the model
    stack); a module that cannot be read or parsed is left to pytest, which reports it."""
    if not _fast(parent.config):
        return None
    try:
        slow = marked_slow_as_a_whole(module_path.read_bytes())
    except (OSError, SyntaxError, ValueError):  # ValueError: bad encoding, NUL bytes
        return None
    return _NotImported.from_parent(parent, path=module_path) if slow else None
