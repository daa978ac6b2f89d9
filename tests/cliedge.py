"""`crma-eval` run in this process through its console-script edge (`crma_eval.cli.main`, what
`python -m crma_eval` and the `crma-eval` script call): the exit code, stdout and stderr a user
sees, without starting an interpreter per call. Tests that need a fresh interpreter (import
lightness, kill and resume) start one themselves; `test_cli.py` keeps one end-to-end process."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from crma_eval.cli import main


@dataclass(frozen=True)
class Finished:
    """The outcome of one command, named like `subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


def crma_eval(*args: str, cwd: Path | str | None = None) -> Finished:
    """Run `crma-eval ARGS` (in `cwd` when given) and return what it exited with and printed."""
    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    code: int
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        os.chdir(before)
    return Finished(code, out.getvalue(), err.getvalue())
