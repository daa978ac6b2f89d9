"""Plain one-line wording, with the next step, for pydantic validation errors (records, configs).

pydantic's own messages ("Input should be greater than or equal to 0", "Extra inputs are not
permitted") name neither the value nor what to write instead; `plain` rewrites each error type
(pydantic_core ErrorDetails: type, loc, msg, input, ctx) and `allowed_keys` lists the keys a
model accepts at a location, for an unknown (misspelt) key.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

_BOUNDS = {"greater_than_equal": ("ge", "≥"), "greater_than": ("gt", ">"),
           "less_than_equal": ("le", "≤"), "less_than": ("lt", "<")}  # fmt: skip
_WHOLE = {"int_parsing", "int_type", "int_from_float"}
_NUMBER = {"float_parsing", "float_type", "decimal_parsing"}
_BOOL = {"bool_parsing", "bool_type"}  # bool01 (crma_eval.api.plugin) words its own


def shown(value: Any, limit: int = 60) -> str:
    """A value as quoted in a message, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(err: Any, allowed: Sequence[str] = ()) -> str:
    """The message for one pydantic error, naming the value given and what to write instead.
    allowed: the keys accepted where an unknown key was found (see `allowed_keys`)."""
    kind, got = err["type"], shown(err.get("input"))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "missing; add this field"
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return f"must be {sign} {ctx.get(key)}, got {got}; write a value in range"
    if kind == "int_parsing_size":
        return f"{got} is too large for a whole number; write an integer such as 0 or 42"
    if kind in _WHOLE:
        return f"expected a whole number (such as 0 or 42), got {got}"
    if kind in _NUMBER:
        return f"expected a number (such as 0.5), got {got}"
    if kind in _BOOL:
        return f"expected a boolean (0/1/true/false), got {got}"
    if kind == "extra_forbidden":
        key = err["loc"][-1] if err.get("loc") else "?"
        keys = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {key!r}{keys}; check its spelling or remove it"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected', 'one of the listed values')}, got {got}"
    if kind in ("string_type", "str_type"):
        return f"expected text, got {got}"
    return str(err["msg"]).removeprefix("Value error, ")


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's annotation (Optional, list, dict values), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def allowed_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys `model` accepts at the mapping holding loc[-1] ([] where that is not a model)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        field = fields.get(str(part))
        current = None if field is None else _model_in(field.annotation)
    if current is None:
        return []
    return [f.alias or n for n, f in current.model_fields.items()]
