"""Which tests make up the fast suite: the `-m` expressions that leave out every `slow` test,
and the test modules marked slow as a whole (used by conftest.py)."""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable

_MARK_NAME = re.compile(r"[\w:+\-.\[\]\\/]+")  # pytest's marker-expression identifier
_MAX_OTHER_MARKS = 8


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
        return name in marks

    return matcher


def marked_slow_as_a_whole(source: str) -> bool:
    """True when a test module's top-level `pytestmark` names `pytest.mark.slow` (alone, in a
    list or tuple, on one line or several); text that merely mentions it does not count."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
                return any(_is_slow_mark(n) for n in ast.walk(node.value or ast.Constant(None)))
    return False


def _is_slow_mark(node: ast.AST) -> bool:
    """`pytest.mark.slow` or `mark.slow` (after `from pytest import mark`), called or not."""
    if not (isinstance(node, ast.Attribute) and node.attr == "slow"):
        return False
    mark = node.value
    if isinstance(mark, ast.Name):
        return mark.id == "mark"
    return (
        isinstance(mark, ast.Attribute)
        and mark.attr == "mark"
        and isinstance(mark.value, ast.Name)
        and mark.value.id == "pytest"
    )
