"""YAML loading that keeps line numbers, so config errors can name the offending line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from crma_eval.api.plugin import MAX_MAGNITUDE, finite_number
from crma_eval.errors import InputError
from crma_eval.safeload import parse_yaml
from crma_eval.validation_words import allowed_keys, plain


def _node_at(node: yaml.Node, loc: Sequence[str | int]) -> yaml.Node:
    """Walk a composed YAML node along a pydantic error location, as deep as it goes."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        else:
            child = None
        if child is None:
            break
        node = child
    return node


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data built from it, parsing the text once,
    within safeload's bounds (depth, alias expansion, integer size)."""
    return parse_yaml(text)


class YamlDoc:
    """A parsed YAML file with its node tree, for locating errors by line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("file not found", path=self.path) from None
        except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
            problem = f"cannot read as YAML text ({exc.__class__.__name__})"
            raise InputError(problem, path=path) from None
        try:
            self.node, self.data = _parse(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise InputError(f"invalid YAML: {problem}", path=self.path, line=line) from None

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the node at `loc` (or its deepest existing parent)."""
        if self.node is None:
            return None
        return _node_at(self.node, loc).start_mark.line + 1

    def scalar_text(self, loc: Sequence[str | int]) -> str | None:
        """The scalar at `loc` exactly as written (e.g. "99.50", "2e-16"); None if not a scalar."""
        if self.node is None:
            return None
        node = _node_at(self.node, loc)
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def error(
        self, problem: str, loc: Sequence[str | int] = (), field: str | None = None
    ) -> InputError:
        """An InputError naming this file and the line of `loc`."""
        return InputError(problem, path=self.path, line=self.line_of(loc), field=field)

    def number(self, value: Any, loc: Sequence[str | int], field: str | None) -> float:
        """`value` as a finite number of size at most MAX_MAGNITUDE (YAML `1e-6` arrives as text
        and is accepted too); an InputError at the line of `loc` otherwise."""
        number: float | None = None
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None or not finite_number(number):
            problem = f"must be a finite number of size at most {MAX_MAGNITUDE:g}, got {value!r}"
            raise self.error(problem, loc, field)
        return number

    def text(self, value: Any, loc: Sequence[str | int], field: str | None) -> str:
        """`value` as a non-empty string, stripped; an InputError at the line of `loc` otherwise."""
        if not isinstance(value, str) or not value.strip():
            raise self.error("must be a non-empty string", loc, field)
        return value.strip()

    def validate(self, model: type[BaseModel]) -> Any:
        """Validate the document against a pydantic model; errors name file, line and field."""
        if not isinstance(self.data, dict):
            raise self.error("expected a mapping at the top level")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")]
            field = ".".join(str(p) for p in loc) or None
            msg = plain(err, allowed_keys(model, loc) if err["type"] == "extra_forbidden" else ())
            raise self.error(msg, loc, field=field) from None
