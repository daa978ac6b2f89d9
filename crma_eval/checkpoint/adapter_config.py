"""Untrusted `adapter_config.json`: field types checked, module patterns matched safely.

PEFT matches a string `target_modules` (and the keys of `rank_pattern`/`alpha_pattern`, and
`layers_pattern`) as Python regular expressions, whose backtracking can take exponential time:
`(.*.*.*.*)*X` hangs on one module name. Before PEFT sees a config, every such pattern must
compile and be *safe*: no repeated group that itself holds a quantifier, an alternation or a
back-reference (the nested-quantifier shapes of catastrophic backtracking), at most
`MAX_OPEN_REPEATS` variable-length quantifiers in all (so backtracking stays polynomial of low
degree over a module name) and at most `MAX_PATTERN` characters. A list of module names is always
safe: each is matched as an exact name or a dotted suffix, as PEFT does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as _ValidationError

try:  # Python >= 3.11
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants
    import sre_parse

MAX_PATTERN = 500
MAX_OPEN_REPEATS = 3
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_REPEATS |= {getattr(sre_constants, "POSSESSIVE_REPEAT", sre_constants.MAX_REPEAT)}


class AdapterConfigError(ValueError):
    """The adapter config is malformed or carries an unsafe pattern (message names the field)."""


class _LoraFields(BaseModel):
    """The fields of a PEFT config that crma_eval and PEFT act on (others are kept unchecked)."""

    model_config = ConfigDict(extra="allow")
    peft_type: StrictStr | None = None
    r: StrictInt | None = Field(None, ge=1)
    lora_alpha: StrictInt | StrictFloat | None = None
    lora_dropout: StrictInt | StrictFloat | None = Field(None, ge=0, lt=1)
    target_modules: StrictStr | list[StrictStr] | None = None
    modules_to_save: list[StrictStr] | None = None
    layers_to_transform: StrictInt | list[StrictInt] | None = None
    layers_pattern: StrictStr | list[StrictStr] | None = None
    rank_pattern: dict[str, StrictInt] | None = None
    alpha_pattern: dict[str, StrictInt | StrictFloat] | None = None


def _count_open_repeats(pattern: Any, in_repeat: bool) -> int:
    """Variable-length quantifiers in a parsed pattern; raises on nested-quantifier shapes."""
    count = 0
    for op, arg in pattern:
        if op in _REPEATS:
            low, high, item = arg
            if in_repeat and (low != high or high > 1):
                raise AdapterConfigError("a quantifier inside a repeated group")
            count += int(low != high) + _count_open_repeats(item, in_repeat or high > 1)
        elif op is sre_constants.BRANCH:
            if in_repeat:
                raise AdapterConfigError("an alternation inside a repeated group")
            count += sum(_count_open_repeats(b, in_repeat) for b in arg[1])
        elif op is sre_constants.SUBPATTERN:
            count += _count_open_repeats(arg[-1], in_repeat)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            count += _count_open_repeats(arg[1], in_repeat)
        elif op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            raise AdapterConfigError("a back-reference")
        elif op is getattr(sre_constants, "ATOMIC_GROUP", None):
            count += _count_open_repeats(arg, in_repeat)
    return count


def check_pattern(pattern: str, field: str) -> re.Pattern[str]:
    """Compile a module-name regex from an untrusted config, refusing unsafe shapes.

    Raises AdapterConfigError naming `field` when the pattern does not compile, is longer than
    MAX_PATTERN, nests quantifiers, repeats an alternation, uses a back-reference or has more
    than MAX_OPEN_REPEATS variable-length quantifiers.
    """
    where = f"{field} pattern {pattern[:60]!r}"
    if len(pattern) > MAX_PATTERN:
        raise AdapterConfigError(f"{where} is longer than {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise AdapterConfigError(f"{where} is not a valid regular expression ({exc})") from None
    try:
        repeats = _count_open_repeats(parsed, False)
    except AdapterConfigError as exc:
        raise AdapterConfigError(
            f"{where} is unsafe ({exc}: exponential backtracking); list module names instead"
        ) from None
    if repeats > MAX_OPEN_REPEATS:
        raise AdapterConfigError(
            f"{where} has {repeats} open-ended quantifiers (at most {MAX_OPEN_REPEATS}); "
            "list module names instead"
        )
    return compiled


def read_adapter_config(path: Path) -> dict[str, Any]:
    """Read and validate an adapter_config.json; every pattern in it is checked safe.

    Returns the JSON object. Raises AdapterConfigError (naming the field) for unreadable JSON, a
    non-object, wrong field types, or an unsafe or invalid pattern.
    """
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterConfigError(f"unreadable adapter_config.json ({exc})") from None
    if not isinstance(config, dict):
        raise AdapterConfigError(
            f"adapter_config.json holds a JSON {type(config).__name__}, expected an object"
        )
    try:
        fields = _LoraFields.model_validate(config)
    except _ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = ".".join(str(p) for p in err["loc"])
        raise AdapterConfigError(f"adapter_config.json field {name!r}: {err['msg']}") from None
    if isinstance(fields.target_modules, str):
        check_pattern(fields.target_modules, "target_modules")
    layers = fields.layers_pattern
    for text in [layers] if isinstance(layers, str) else layers or []:
        check_pattern(text, "layers_pattern")
    for key in [*(fields.rank_pattern or {}), *(fields.alpha_pattern or {})]:
        check_pattern(key, "rank_pattern/alpha_pattern key")
    return config


def target_found(target: str, names: set[str]) -> bool:
    """Whether a listed target module name is a module name or its dotted suffix (as PEFT)."""
    return any(n == target or n.endswith("." + target) for n in names)


def targets_missing(config: dict[str, Any], names: set[str]) -> str | None:
    """Why the config's target_modules match nothing in `names` (module names), or None.

    A string is a regex already checked by `read_adapter_config` (matched with fullmatch, as
    PEFT does); a list holds module names.
    """
    targets = config.get("target_modules") or []
    if isinstance(targets, str):
        compiled = re.compile(targets)
        if not any(compiled.fullmatch(n) for n in names):
            return f"target_modules pattern {targets!r} matches no module of the base model"
        return None
    missing = [t for t in targets if not target_found(t, names)]
    return f"target modules {missing} not found in the base model" if missing else None
