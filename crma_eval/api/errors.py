"""Error types that map onto the CLI's exit codes (2 = bad input, 1 = gate failed)."""

from __future__ import annotations

from pathlib import Path

from crma_eval.api.text import visible

MAX_PROBLEM_CHARS = 400  # a hostile file (an alias bomb, a huge value) cannot flood the log


KEPT_TAIL = 200  # a message's end (its next step, e.g. "Paired sides must ...") is never cut


def clip(text: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    """`text` cut to about `limit` characters in the middle, saying how much was left out; its
    first characters and its last KEPT_TAIL ones (where the next step is written) are kept."""
    if len(text) <= limit:
        return text
    head = limit - KEPT_TAIL - 40
    cut = len(text) - head - KEPT_TAIL
    return f"{text[:head]}… ({cut} more characters) …{text[-KEPT_TAIL:]}"


class InputError(Exception):
    """Bad user input: reported as one line naming file, line and field, exit code 2."""

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = clip(problem)
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Render as `file:line: field: problem`, leaving out the parts that are unknown; control
        characters of the file's text are shown as <U+XXXX> (`crma_eval.api.text.visible`)."""
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        field = f"field '{self.field}': " if self.field else ""
        return visible(f"{where}{field}{self.problem}")
