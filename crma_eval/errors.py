"""The bad-input error (exit 2): defined in the bottom package, `crma_eval.api.errors`, and
importable from here as well."""

from crma_eval.api.errors import MAX_PROBLEM_CHARS, InputError, clip

__all__ = ["MAX_PROBLEM_CHARS", "InputError", "clip"]
