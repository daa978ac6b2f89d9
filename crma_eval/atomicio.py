"""Atomic file writes: a temp file in the target's folder, fsync, then one rename.

A reader never sees a half-written file, and a failure leaves the previous file untouched.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from crma_eval.errors import InputError

FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def no_space(path: str | Path) -> InputError:
    """The bad-input error (exit 2) of a full disk or quota, naming the file being written."""
    return InputError("no space left on device; free some space and rerun", path=path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _staged(path: Path) -> Iterator[tuple[TextIO, str]]:
    """A UTF-8 handle on a temp file beside `path` and its name; fsynced with the usual
    permissions when the block succeeds, removed when it fails (a full disk names `path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh, tmp
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in FULL_DISK:
            raise no_space(path) from None
        raise


@contextmanager
def atomic_open(path: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content replaces `path` atomically when the block succeeds."""
    with _staged(Path(path)) as (fh, tmp):
        yield fh
    os.replace(tmp, path)


def write_all_atomic(files: Mapping[Path, str]) -> None:
    """Stage every file, then rename them all: if any write fails, no target has changed."""
    staged: dict[Path, str] = {}
    try:
        for path, text in files.items():
            with _staged(path) as (fh, tmp):
                fh.write(text)
            staged[path] = tmp
    except BaseException:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)
        raise
    for path, tmp in staged.items():
        os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write text to `path` through a temp file in the same folder and an atomic rename."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write rows as JSON Lines (nulls kept, unlike records.write_records), atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
