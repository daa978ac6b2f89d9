"""Versions of the libraries that can change a number (results.json meta, run fingerprints and
cache keys), read from package metadata so that nothing heavy is imported."""

from __future__ import annotations

import functools
import platform
from importlib.metadata import PackageNotFoundError, version

__version__ = "0.1.0"

VERSIONED = (
    "torch", "transformers", "peft", "lm_eval", "datasets", "numpy", "pandas", "scipy",
    "statsmodels", "scikit-learn", "pydantic",
)  # fmt: skip


def library_versions() -> dict[str, str | None]:
    """crma_eval, Python and every VERSIONED package's version (None when not installed).

    Read once per process (every unit's fingerprint holds them) and returned as a fresh dict."""
    return dict(_read_versions())


@functools.cache
def _read_versions() -> tuple[tuple[str, str | None], ...]:
    found: dict[str, str | None] = {"crma_eval": __version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return tuple(found.items())
