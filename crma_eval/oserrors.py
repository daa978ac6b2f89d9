"""Operating-system errors the user can fix, as one-line bad-input errors (exit 2).

A missing file or folder, a permission problem, a read-only file system, a full disk or quota,
a too-long or looping path: the user fixes each by changing the environment, so the CLI reports
it on one line naming the file (exit 2). A folder wanted where a file already is (EEXIST from
creating an output's parent folders) reads as "a part of the path is not a folder", as ENOTDIR
does, whichever verb writes there. Any other OSError is left to the internal-error path
(exit 3 with a traceback).
"""

from __future__ import annotations

import errno
import os

from crma_eval.errors import InputError

_NEXT_STEP = {
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENOTDIR: "a part of the path is not a folder; check the path",
    errno.EISDIR: "is a folder where a file was expected; check the path",
    errno.EACCES: "permission denied; fix the permissions or choose another path",
    errno.EPERM: "operation not permitted; fix the permissions or choose another path",
    errno.EROFS: "read-only file system; write somewhere writable (e.g. another --out)",
    errno.ENOSPC: "no space left on device; free some space and rerun",
    errno.EDQUOT: "disk quota exceeded; free some space and rerun",
    errno.ENAMETOOLONG: "file name too long; choose a shorter path",
    errno.ELOOP: "too many symbolic links; check the path",
    errno.EEXIST: "already exists; remove it or choose another path",
    errno.ENOTEMPTY: "folder not empty; remove it or choose another path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) and rerun",
    errno.ENFILE: "too many open files in the system; rerun later",
    errno.EFBIG: "file too large for this file system; choose another path",
    errno.EBUSY: "device or resource busy; rerun later",
    errno.ETXTBSY: "file busy; rerun later",
    errno.EXDEV: "cannot move across file systems; keep the output on one file system",
}


def _is_non_folder(name: object) -> bool:
    """True when `name` is an existing path that is not a folder (a file, a link to one)."""
    if not isinstance(name, (str, bytes, os.PathLike)):
        return False
    return os.path.lexists(name) and not os.path.isdir(name)


def user_fixable(exc: OSError) -> InputError | None:
    """The one-line InputError of an OSError the user can fix, else None (an internal error)."""
    code = exc.errno or -1
    if code == errno.EEXIST and _is_non_folder(exc.filename):
        code = errno.ENOTDIR  # mkdir(exist_ok=True) on a file: the path needed it as a folder
    step = _NEXT_STEP.get(code)
    if step is None:
        return None
    path = exc.filename if exc.filename is not None else None
    if exc.filename2 is not None:
        path = f"{exc.filename} -> {exc.filename2}"
    return InputError(step, path=path)
