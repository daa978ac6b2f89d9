"""Which tests make up the fast suite: the `-m` expressions that leave out every `slow` test,
the test modules marked slow as a whole, and the import refusal of the model stack there (used by
conftest.py)."""

from __future__ import annotations

import ast
import functools
import importlib.abc
import importlib.machinery
import itertools
import re
from collections.abc import Callable, Sequence
from types import ModuleType

_MARK_NAME = re.compile(r"[\w:+\-.\[\]\\/]+")  # pytest's marker-expression identifier
_MAX_OTHER_MARKS = 12  # 4,096 evaluations at most; a longer expression counts as not fast
MODEL_STACK = frozenset({"torch", "transformers", "peft", "accelerate", "ray"})


class _Refused(importlib.abc.Loader):
    """Loads nothing: importing the module raises ModuleNotFoundError with the fast-suite hint."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        raise ModuleNotFoundError(
            f"{spec.name} is not available in the fast suite: mark the test `slow`",
            name=spec.name,
        )

    def exec_module(self, module: ModuleType) -> None:  # pragma: no cover - never reached
        raise ModuleNotFoundError(module.__name__, name=module.__name__)


class NoModelStack(importlib.abc.MetaPathFinder):
    """Refuses to import the model stack. `importlib.util.find_spec` still answers (a probe such as
    `datasets`' "is torch installed?" does not crash); `import torch` raises ModuleNotFoundError
    naming the fast suite."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in MODEL_STACK:
            return importlib.machinery.ModuleSpec(fullname, _Refused())
        return None


@functools.cache  # asked by conftest for every collected module
def deselects_slow(markexpr: str) -> bool:
    """True when the `-m` expression selects no test marked `slow`, whatever its other marks:
    `not slow`, `not slow and not browser`, `(not slow) or (gpu and not slow)` ... (pytest's own
    expression evaluator, over every truth value of the other marks the expression names)."""
    from _pytest.mark.expression import Expression

    if not markexpr.strip():
        return False
    try:
        expression = Expression.compile(markexpr)
    except SyntaxError:
        return False  # pytest itself reports the bad expression
    others = sorted(set(_MARK_NAME.findall(markexpr)) - {"and", "or", "not", "slow"})
    if len(others) > _MAX_OTHER_MARKS:
        return False
    for values in itertools.product((False, True), repeat=len(others)):
        marks = {"slow", *(m for m, on in zip(others, values, strict=True) if on)}
        if expression.evaluate(_marked_with(marks)):
            return False
    return True


def _marked_with(marks: set[str]) -> Callable[..., bool]:
    """pytest's marker matcher for an item carrying exactly `marks` (arguments ignored)."""

    def matcher(name: str, /, **kwargs: object) -> bool:
        return name in marks and not kwargs  # `slow(reason="x")` does not match a plain `slow`

    return matcher


def marked_slow_as_a_whole(source: str | bytes) -> bool:
    """True when a test module's top-level `pytestmark` names the `slow` mark (alone, in a list or
    tuple, on one line or several; `pytest.mark.slow`, `pt.mark.slow`, `mark.slow`, or a
    module-level name bound to one); text that merely mentions it does not count. Bytes are
    decoded as Python does (a coding cookie is honoured). SyntaxError, ValueError: the module
    cannot be parsed."""
    aliases: set[str] = set()
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        slow = any(_is_slow_mark(n) or _named(n, aliases) for n in ast.walk(node.value))
        if "pytestmark" in names:
            return slow
        if slow:
            aliases |= names
    return False


def _named(node: ast.AST, aliases: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in aliases


def _is_slow_mark(node: ast.AST) -> bool:
    """`<pytest>.mark.slow` under any name for pytest, or `mark.slow`, called or not."""
    if not (isinstance(node, ast.Attribute) and node.attr == "slow"):
        return False
    mark = node.value
    if isinstance(mark, ast.Name):
        return mark.id == "mark"
    return isinstance(mark, ast.Attribute) and mark.attr == "mark"
