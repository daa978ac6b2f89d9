"""What every verb shares: the exit codes (0 ok, 1 gate failed, 2 bad input, 3 internal error),
the one-line error, JSON on stdout, quiet libraries."""

from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Any

import click

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
MAX_ERROR_CHARS = 1000


def echo_error(message: str) -> None:
    """One line on stderr, whatever newlines the message holds (greppable CI logs), cut to
    MAX_ERROR_CHARS so a hostile input cannot flood the log."""
    line = " ".join(message.split())
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 1] + "…"
    click.echo("crma-eval: error: " + line, err=True)


def echo_json(obj: Any) -> None:
    """`obj` as indented JSON on stdout (non-JSON values as their str)."""
    click.echo(json.dumps(obj, indent=2, default=str))


def hush_libraries() -> None:
    """`--quiet`: no progress bars or chatter from transformers, datasets and lm-eval either.

    tqdm reads TQDM_DISABLE when it is first imported, so this runs before any model code loads.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    for name in ("lm_eval", "lm-eval", "transformers", "datasets", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
