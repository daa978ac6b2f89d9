"""One safe reader for every YAML spec and JSON results/records file a user or a tamperer controls.

Bounds, each an InputError (exit 2) naming the file, never a crash or unbounded memory:
- nesting depth at most MAX_DEPTH (1,000-deep brackets would otherwise be a RecursionError);
- YAML aliases: the document expanded through its aliases has at most MAX_EXPANDED nodes (a 1 KB
  "billion laughs" alias bomb expands to gigabytes);
- integers of at most MAX_INT_DIGITS digits (a 5,000-digit integer would otherwise reach Python's
  int-string limit or later arithmetic); numbers of magnitude at most MAX_MAGNITUDE are checked
  where a file asks (`crma_eval.api.finite_number`);
- JSON's non-finite constants (NaN, Infinity) only where the caller allows them (results.json
  keeps them so that a gate can fail them by name; everything else refuses them);
- every message cut to a few hundred characters (errors.clip).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from crma_eval.errors import InputError

MAX_DEPTH = 100
MAX_EXPANDED = 200_000
MAX_INT_DIGITS = 30


def _too_deep(path: Any, line: int | None = None) -> InputError:
    return InputError(f"nested deeper than {MAX_DEPTH} levels", path=path, line=line)


def _depth_ok(value: Any) -> bool:
    """Whether a parsed JSON value nests at most MAX_DEPTH levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return True


def json_loads(
    text: str | bytes,
    *,
    path: str | Path | None = None,
    line: int | None = None,
    allow_nonfinite: bool = False,
) -> Any:
    """Parse JSON text within the bounds above; InputError naming `path` and `line` otherwise."""

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            raise InputError(
                f"integer with {len(digits)} digits (at most {MAX_INT_DIGITS})", path=path,
                line=line,
            )  # fmt: skip
        return int(digits)

    def parse_constant(name: str) -> float:
        if not allow_nonfinite:
            raise InputError(f"non-finite number {name} is not allowed", path=path, line=line)
        return float(name)

    try:
        value = json.loads(text, parse_int=parse_int, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno
        raise InputError(f"malformed JSON: {exc.msg}", path=path, line=where) from None
    except RecursionError:
        raise _too_deep(path, line) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"malformed JSON: {exc}", path=path, line=line) from None
    if not _depth_ok(value):
        raise _too_deep(path, line)
    return value


def read_json(path: str | Path, *, allow_nonfinite: bool = False) -> Any:
    """Read and parse a JSON file (UTF-8) within the bounds; InputError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, expected a JSON file", path=path) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None
    return json_loads(text, path=path, allow_nonfinite=allow_nonfinite)


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with bounded nesting depth, alias expansion and integer size."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: Any) -> int:
        digits = sum(ch.isalnum() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"integer with {digits} digits (at most {MAX_INT_DIGITS})",
                node.start_mark,
            )  # fmt: skip
        return int(super().construct_yaml_int(node))


BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)


def expanded_size(node: yaml.Node, limit: int = MAX_EXPANDED) -> int:
    """Nodes of the document with every alias expanded (shared nodes counted per use), counted
    bottom-up over the node graph so the count never expands anything; stops past `limit`."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        if id(current) in sizes:
            continue
        children = _children(current)
        if done or not children:
            sizes[id(current)] = min(limit + 1, 1 + sum(sizes.get(id(c), 0) for c in children))
            continue
        stack.append((current, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of one YAML document, within the bounds.

    Raises yaml.YAMLError (with a mark) for bad or over-large documents.
    """
    loader = BoundedLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels") from None
        if node is None:
            return None, None
        if expanded_size(node) > MAX_EXPANDED:
            raise yaml.composer.ComposerError(
                None, None, f"expands to more than {MAX_EXPANDED} nodes through its aliases"
                " (an alias bomb?)", node.start_mark,
            )  # fmt: skip
        return node, loader.construct_document(node)
    finally:
        loader.dispose()
