"""The gate spec (GATES.yaml): a `gates` list of threshold and baseline-comparison rules.

`compare` rules take a decision `mode` (significant_drop, the default; non_inferiority;
equivalence) with `margin`, and `power` for the MDE printed beside each verdict. Ranges: alpha in
(0, 0.5] (below 0.5 in the margin modes, whose 1 − 2·alpha interval needs it), power in (0, 1),
margin > 0, max_drop ≥ 0 (all finite).

Every problem is an InputError naming the spec file and the line of the offending rule, so a CI
log points straight at the rule to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crma_eval.errors import InputError
from crma_eval.yamlio import YamlDoc

RULE_KEYS = (
    "name",
    "metric",
    "compare",
    "min",
    "max",
    "max_drop",
    "alpha",
    "mode",
    "margin",
    "power",
)
METRIC_ONLY = ("min", "max")
COMPARE_ONLY = ("max_drop", "alpha", "mode", "margin", "power")
NUMERIC_COMPARE = ("max_drop", "alpha", "margin", "power")
DEFAULT_ALPHA = 0.05
DEFAULT_MAX_DROP = 0.0
DEFAULT_POWER = 0.8
MAX_ALPHA = 0.5  # a two-sided level above 0.5 (or a 1 - 2 alpha interval at 0.5) means nothing
# Decision modes of `compare` rules (crma_eval.gate.decide); the first is the default.
MODES = ("significant_drop", "non_inferiority", "equivalence")
DEFAULT_NAMES = {
    "significant_drop": "no significant drop vs",
    "non_inferiority": "non-inferior to",
    "equivalence": "equivalent to",
}


@dataclass(frozen=True)
class Rule:
    """One gate rule: `metric` (bounds on every matching metric) or `compare` (vs a baseline)."""

    name: str
    kind: str  # "metric" or "compare"
    pattern: str  # glob over metric names: * one dotted segment, ** across (gate.globs)
    line: int
    min: float | None = None
    max: float | None = None
    max_drop: float = DEFAULT_MAX_DROP
    alpha: float = DEFAULT_ALPHA
    legacy_globs: bool = True  # no `globs: segments` in the spec: old `*` meaning kept (globs.py)
    mode: str = MODES[0]
    margin: float = 0.0  # non_inferiority / equivalence: the largest acceptable drop
    power: float = DEFAULT_POWER  # for the MDE printed beside the verdict

    @property
    def threshold(self) -> str:
        """The rule's bound as short text for tables (e.g. `≥ 0.9`, `drop ≤ 0.02 or p ≥ 0.05`)."""
        level = f"{1 - 2 * self.alpha:.0%}"
        if self.mode == "non_inferiority":
            return f"upper {level} bound of drop < {self.margin:g}"
        if self.mode == "equivalence":
            return f"{level} interval of drop within ±{self.margin:g} (TOST)"
        if self.kind == "compare":
            return f"drop ≤ {self.max_drop:g} or p ≥ {self.alpha:g}"
        if self.min is not None and self.max is not None:
            return f"{self.min:g} ≤ x ≤ {self.max:g}"
        return f"≥ {self.min:g}" if self.min is not None else f"≤ {self.max:g}"


def _number(doc: YamlDoc, index: int, raw: dict[str, Any], key: str) -> float | None:
    """A finite numeric threshold, None when the rule does not give `key`."""
    return doc.number(raw[key], ["gates", index, key], key) if key in raw else None


def _text(doc: YamlDoc, index: int, raw: dict[str, Any], key: str) -> str | None:
    return doc.text(raw[key], ["gates", index, key], key) if key in raw else None


def _parse_rule(doc: YamlDoc, index: int, raw: Any) -> Rule:
    loc: list[str | int] = ["gates", index]
    line = doc.line_of(loc) or 0
    if not isinstance(raw, dict):
        raise doc.error("a rule must be a mapping (metric: ..., min/max: ...)", loc)
    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        allowed = ", ".join(RULE_KEYS)
        raise doc.error(f"unknown key (allowed: {allowed})", [*loc, unknown[0]], str(unknown[0]))
    metric, compare = _text(doc, index, raw, "metric"), _text(doc, index, raw, "compare")
    if (metric is None) == (compare is None):
        raise doc.error("a rule needs exactly one of 'metric' or 'compare'", loc)
    numbers = {key: _number(doc, index, raw, key) for key in (*METRIC_ONLY, *NUMERIC_COMPARE)}
    name = _text(doc, index, raw, "name")
    if metric is not None:
        misplaced = [k for k in COMPARE_ONLY if k in raw]
        if misplaced:
            raise doc.error("only for 'compare' rules", [*loc, misplaced[0]], misplaced[0])
        low, high = numbers["min"], numbers["max"]
        if low is None and high is None:
            raise doc.error("a 'metric' rule needs 'min' and/or 'max'", loc)
        if low is not None and high is not None and low > high:
            raise doc.error(f"min {low:g} is greater than max {high:g}", loc)
        rule = Rule("", "metric", metric, line, min=low, max=high)
        return replace(rule, name=name or f"{metric} {rule.threshold}")
    misplaced = [k for k in METRIC_ONLY if k in raw]
    if misplaced:
        raise doc.error("only for 'metric' rules", [*loc, misplaced[0]], misplaced[0])
    max_drop = DEFAULT_MAX_DROP if numbers["max_drop"] is None else numbers["max_drop"]
    if max_drop < 0:
        problem = f"max_drop must be ≥ 0 (the largest worsening tolerated), got {max_drop:g}"
        raise doc.error(f"{problem}; use 0 to fail on any significant worsening",
                        loc, "max_drop")  # fmt: skip
    mode, margin, power = _decision(doc, index, raw, numbers)
    alpha = DEFAULT_ALPHA if numbers["alpha"] is None else numbers["alpha"]
    _check_alpha(doc, loc, alpha, mode)
    rule = Rule("", "compare", str(compare), line, max_drop=max_drop, alpha=alpha)
    rule = replace(rule, mode=mode, margin=margin, power=power)
    return replace(rule, name=name or f"{compare}: {DEFAULT_NAMES[mode]} baseline")


def _decision(
    doc: YamlDoc, index: int, raw: dict[str, Any], numbers: dict[str, float | None]
) -> tuple[str, float, float]:
    """A compare rule's `mode`, `margin` (> 0, needed by the margin modes) and `power`."""
    loc: list[str | int] = ["gates", index]
    mode = raw.get("mode", MODES[0])
    if mode not in MODES:
        raise doc.error(f"must be one of {', '.join(MODES)}, got {mode!r}", [*loc, "mode"], "mode")
    power = DEFAULT_POWER if numbers["power"] is None else numbers["power"]
    if not 0.0 < power < 1.0:
        problem = f"power must be strictly between 0 and 1, got {power:g}; use e.g. 0.8"
        raise doc.error(problem, loc, "power")
    margin = numbers["margin"]
    if mode == MODES[0]:
        if margin is not None:
            raise doc.error("significant_drop uses 'max_drop', not 'margin'", loc, "margin")
        return mode, 0.0, power
    if "max_drop" in raw:
        raise doc.error(f"{mode} uses 'margin', not 'max_drop'", loc, "max_drop")
    if margin is None or margin <= 0:
        problem = f"{mode} needs a 'margin' > 0 (the largest acceptable drop)"
        hint = "; `crma-eval gate --calibrate RUN...` proposes one from repeated runs"
        raise doc.error(problem + hint, loc, "margin")
    return str(mode), margin, power


def _check_alpha(doc: YamlDoc, loc: list[str | int], alpha: float, mode: str) -> None:
    """alpha in (0, 0.5]; below 0.5 in the margin modes (their interval is 1 − 2·alpha)."""
    margin_mode = mode != MODES[0]
    if 0.0 < alpha < MAX_ALPHA or (alpha == MAX_ALPHA and not margin_mode):
        return
    where = "(0, 0.5) in the margin modes" if margin_mode else "(0, 0.5]"
    problem = f"alpha must be in {where}, got {alpha:g}; use e.g. 0.05"
    raise doc.error(problem, loc, "alpha")


def load_spec(path: str | Path) -> list[Rule]:
    """Parse and check a gate spec; InputError names the file and the offending rule's line."""
    doc = YamlDoc(path)
    if not isinstance(doc.data, dict) or "gates" not in doc.data:
        raise doc.error("expected a mapping with a 'gates' list at the top level")
    extra = [k for k in doc.data if k not in ("gates", "globs")]
    if extra:
        raise doc.error(
            "unknown top-level key (only 'gates' and 'globs' are allowed)",
            [extra[0]],
            str(extra[0]),
        )
    if doc.data.get("globs", "segments") != "segments":
        raise doc.error("'globs' can only be 'segments'", ["globs"], "globs")
    gates = doc.data["gates"]
    if not isinstance(gates, list) or not gates:
        raise doc.error("'gates' must be a non-empty list of rules", ["gates"], "gates")
    rules = [_parse_rule(doc, i, raw) for i, raw in enumerate(gates)]
    return [replace(r, legacy_globs="globs" not in doc.data) for r in rules]


def spec_error(path: str | Path, rule: Rule, problem: str) -> InputError:
    """An InputError about one rule, for problems found while evaluating it."""
    return InputError(problem, path=path, line=rule.line)
