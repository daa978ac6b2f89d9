"""The claims file (CLAIMS.yaml): a `claims` list of printed numbers and what they rest on.

Every problem is an InputError naming the file and the line of the offending key, so a CI log
points straight at the claim to fix. Printed numbers are read as written (see claims.printed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crma_eval.claims.printed import RELATIONS, Printed
from crma_eval.errors import InputError
from crma_eval.stats import ALTERNATIVES, MCNEMAR_METHODS, PROPORTION_METHODS
from crma_eval.yamlio import YamlDoc

MAX_COUNT = 10**15  # counts stay exact in float arithmetic (t / n)
UNITS = {"percent": 100.0, "fraction": 1.0}
COMMON_KEYS = ("id", "text", "tolerance")
# kind -> (its own keys, keys of a printed mapping; () when `printed` is one number)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "metric": (("metric", "printed", "scale", "relation", "interval", "method"), ()),
    "proportion": (
        ("proportion", "printed", "interval", "unit", "method", "confidence"),
        (),
    ),
    "welch": (("welch", "summary", "printed"), ("statistic", "df", "pvalue")),
    "values": (("values", "printed"), ("mean", "sd", "min", "max")),
    "mcnemar": (("mcnemar", "printed", "relation"), ("statistic", "pvalue")),
    "permutation": (("permutation", "printed", "relation"), ("statistic", "pvalue", "floor")),
    "mean": (("mean", "printed"), ()),
    "equivalence": (("equivalence", "margin", "mode", "alpha", "printed"), ()),
}
EQUIVALENCE_MODES = ("equivalence", "non_inferiority", "significant_drop")
SUMMARY_KEYS = ("mean_a", "sd_a", "n_a", "mean_b", "sd_b", "n_b")


@dataclass(frozen=True)
class Claim:
    """One checked statement: its `kind`, the inputs it rests on and the numbers it prints.

    `printed` maps a name to a Printed number: "value" for a single number, "low"/"high" for an
    interval, else the kind's names (statistic, df, pvalue, mean, sd, ...). `inputs` holds the
    kind's validated inputs (metric name and scale, counts, value lists, summaries, method).
    """

    id: str
    kind: str
    line: int
    text: str
    printed: Mapping[str, Printed]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    relation: str = "="


class _Reader:
    """Reads one claim's keys, raising InputErrors that point at the key's line."""

    def __init__(self, doc: YamlDoc, index: int, raw: dict[str, Any]) -> None:
        self.doc, self.raw = doc, raw
        self.loc: list[str | int] = ["claims", index]
        self.tolerance: float | None = None

    def fail(self, problem: str, *keys: str | int) -> InputError:
        where = [*self.loc, *keys]
        return self.doc.error(problem, where, ".".join(str(k) for k in keys) or None)

    def number(self, value: Any, *keys: str | int) -> float:
        """A finite number (YAML `1e-6` arrives as text and is accepted too)."""
        return self.doc.number(value, [*self.loc, *keys], ".".join(str(k) for k in keys) or None)

    def printed(self, value: Any, *keys: str | int) -> Printed:
        """A printed number, its precision taken from the text as written in the file."""
        self.number(value, *keys)
        text = self.doc.scalar_text([*self.loc, *keys]) or str(value)
        try:
            return Printed.parse(text, self.tolerance)
        except ValueError as exc:
            raise self.fail(str(exc), *keys) from None

    def count(self, value: Any, *keys: str | int, minimum: int = 0) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not minimum <= value <= MAX_COUNT
        ):
            raise self.fail(f"must be an integer from {minimum} to {MAX_COUNT:.0e}", *keys)
        return value

    def mapping(self, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = self.raw[key]
        if not isinstance(value, dict) or not value:
            raise self.fail(f"must be a mapping with keys from: {', '.join(allowed)}", key)
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.fail(f"unknown key (allowed: {', '.join(allowed)})", key, unknown[0])
        return value

    def numbers(self, value: Any, *keys: str | int, minimum: int = 1) -> tuple[float, ...]:
        if not isinstance(value, list) or len(value) < minimum:
            raise self.fail(f"must be a list of at least {minimum} numbers", *keys)
        return tuple(self.number(v, *keys, i) for i, v in enumerate(value))

    def choice(self, key: str, choices: tuple[str, ...], default: str, where: Any = None) -> str:
        source = self.raw if where is None else where
        value = source.get(key, default)
        if value not in choices:
            raise self.fail(f"must be one of {', '.join(choices)}, got {value!r}", key)
        return str(value)

    def text(self, key: str, required: bool = False) -> str:
        value = self.raw.get(key)
        if value is None and not required:
            return ""
        return self.doc.text(value, [*self.loc, key], key)

    def printed_values(self, names: tuple[str, ...]) -> dict[str, Printed]:
        """`printed` as one number ("value") or as a mapping over `names`."""
        if "printed" not in self.raw:
            return {}
        value = self.raw["printed"]
        if not names:
            return {"value": self.printed(value, "printed")}
        block = self.mapping("printed", names)
        return {k: self.printed(v, "printed", k) for k, v in block.items()}


def _kind_of(reader: _Reader) -> str:
    found = [kind for kind in KINDS if kind in reader.raw]
    if "summary" in reader.raw and "welch" not in found:
        found.append("welch")
    if len(found) != 1:
        raise reader.fail(f"a claim needs exactly one of: {', '.join(KINDS)}")
    return found[0]


def _bounds(r: _Reader, printed: dict[str, Printed]) -> None:
    """`interval: [low, high]` as the printed numbers "low" and "high"."""
    bounds = r.raw["interval"]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise r.fail("must be a list [low, high]", "interval")
    printed["low"], printed["high"] = (r.printed(b, "interval", i) for i, b in enumerate(bounds))


def _metric_inputs(r: _Reader, printed: dict[str, Printed]) -> dict[str, Any]:
    """A run metric (times `scale`); with `interval`, its interval's bounds from the run's metric
    catalogue, and with `method`, the interval method the claim names (e.g. clustered-cr1)."""
    scale = r.number(r.raw.get("scale", 1.0), "scale")
    if "interval" in r.raw:
        _bounds(r, printed)
    elif "method" in r.raw:
        raise r.fail("a method names an interval: give 'interval: [low, high]' too", "method")
    method = r.text("method") or None
    return {"metric": r.text("metric", required=True), "scale": scale, "method": method}


def _proportion_inputs(r: _Reader, printed: dict[str, Printed]) -> dict[str, Any]:
    counts = r.mapping("proportion", ("k", "n"))
    if "n" not in counts:
        raise r.fail("missing", "proportion", "n")
    n = r.count(counts["n"], "proportion", "n", minimum=1)
    k = None if "k" not in counts else r.count(counts["k"], "proportion", "k")
    if k is not None and k > n:
        raise r.fail(f"k = {k} is greater than n = {n}", "proportion", "k")
    if "interval" in r.raw:
        if k is None:
            raise r.fail("an interval needs the count k as well as n", "proportion")
        _bounds(r, printed)
    if not printed:
        raise r.fail("a proportion claim needs 'printed' and/or 'interval'")
    if "unit" not in r.raw:
        raise r.fail("missing (percent or fraction)", "unit")
    confidence = r.number(r.raw.get("confidence", 0.95), "confidence")
    if not 0.0 < confidence < 1.0:
        raise r.fail("must be strictly between 0 and 1", "confidence")
    return {
        "k": k,
        "n": n,
        "scale": UNITS[r.choice("unit", tuple(UNITS), "percent")],
        "method": r.choice("method", PROPORTION_METHODS, "wilson"),
        "confidence": confidence,
    }


def _welch_inputs(r: _Reader) -> dict[str, Any]:
    inputs: dict[str, Any] = {"a": None, "b": None, "summary": None}
    if "welch" in r.raw:
        raw = r.mapping("welch", ("a", "b"))
        for side in ("a", "b"):
            inputs[side] = r.numbers(raw.get(side), "welch", side, minimum=2)
    if "summary" in r.raw:
        raw = r.mapping("summary", SUMMARY_KEYS)
        missing = [k for k in SUMMARY_KEYS if k not in raw]
        if missing:
            raise r.fail("missing", "summary", missing[0])
        summary = {k: r.number(raw[k], "summary", k) for k in SUMMARY_KEYS}
        for side in ("n_a", "n_b"):
            summary[side] = r.count(raw[side], "summary", side, minimum=2)
        inputs["summary"] = summary
    return inputs


def _kind_inputs(r: _Reader, kind: str, printed: dict[str, Printed]) -> dict[str, Any]:
    if kind == "metric":
        return _metric_inputs(r, printed)
    if kind == "proportion":
        return _proportion_inputs(r, printed)
    if kind == "welch":
        return _welch_inputs(r)
    if kind == "values":
        return {"values": r.numbers(r.raw["values"], "values")}
    if kind == "mcnemar":
        raw = r.mapping("mcnemar", ("b", "c", "method"))
        counts = {k: r.count(raw.get(k), "mcnemar", k) for k in ("b", "c")}
        return {**counts, "method": r.choice("method", MCNEMAR_METHODS, "exact", raw)}
    if kind == "permutation":
        raw = r.mapping("permutation", ("a", "b", "alternative"))
        sides = {k: r.numbers(raw.get(k), "permutation", k) for k in ("a", "b")}
        return {**sides, "alternative": r.choice("alternative", ALTERNATIVES, "two-sided", raw)}
    if kind == "equivalence":
        return _equivalence_inputs(r)
    raw = r.mapping("mean", ("n",))
    return {"n": r.count(raw.get("n"), "mean", "n", minimum=1)}


def _equivalence_inputs(r: _Reader) -> dict[str, Any]:
    """values (one sample) or a and b (two samples): number lists or metric globs; the mode."""
    raw = r.mapping("equivalence", ("values", "a", "b"))
    sides = ("values",) if "values" in raw else ("a", "b")
    if ("values" in raw and len(raw) > 1) or set(sides) - set(raw):
        raise r.fail("needs 'values', or both 'a' and 'b'", "equivalence")
    inputs: dict[str, Any] = {}
    for side in sides:
        value = raw[side]
        if isinstance(value, str) and value.strip():
            inputs[side] = value.strip()
        else:
            inputs[side] = r.numbers(value, "equivalence", side, minimum=2)
    if "margin" not in r.raw:
        raise r.fail("missing (the largest acceptable value, in the values' unit)", "margin")
    margin = r.number(r.raw["margin"], "margin")
    if margin <= 0:
        raise r.fail("must be > 0", "margin")
    alpha = r.number(r.raw.get("alpha", 0.05), "alpha")
    if not 0.0 < alpha < 0.5:
        raise r.fail("must be strictly between 0 and 0.5", "alpha")
    mode = r.choice("mode", EQUIVALENCE_MODES, "equivalence")
    return {**inputs, "margin": margin, "alpha": alpha, "mode": mode}


def _parse_claim(doc: YamlDoc, index: int, raw: Any) -> Claim:
    if not isinstance(raw, dict):
        raise doc.error("a claim must be a mapping (id: ..., printed: ...)", ["claims", index])
    reader = _Reader(doc, index, raw)
    kind = _kind_of(reader)
    keys, printed_names = KINDS[kind]
    allowed = (*COMMON_KEYS, *keys)
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise reader.fail(
            f"unknown key for a {kind} claim (allowed: {', '.join(allowed)})", unknown[0]
        )
    if "tolerance" in raw:
        reader.tolerance = reader.number(raw["tolerance"], "tolerance")
        if reader.tolerance < 0:
            raise reader.fail("must be >= 0", "tolerance")
    printed = reader.printed_values(printed_names)
    inputs = _kind_inputs(reader, kind, printed)
    if not printed and kind != "equivalence":  # an equivalence claim prints no number
        raise reader.fail("missing: the printed number(s) to check", "printed")
    return Claim(
        id=reader.text("id", required=True),
        kind=kind,
        line=doc.line_of(reader.loc) or 0,
        text=reader.text("text"),
        printed=printed,
        inputs=inputs,
        relation=reader.choice("relation", RELATIONS, "="),
    )


def load_claims(path: str | Path) -> list[Claim]:
    """Parse and check a claims file; InputError names the file and the offending line."""
    doc = YamlDoc(path)
    if not isinstance(doc.data, dict) or "claims" not in doc.data:
        raise doc.error("expected a mapping with a 'claims' list at the top level")
    extra = [k for k in doc.data if k != "claims"]
    if extra:
        raise doc.error("unknown top-level key (only 'claims')", [extra[0]], str(extra[0]))
    raw_claims = doc.data["claims"]
    if not isinstance(raw_claims, list) or not raw_claims:
        raise doc.error("'claims' must be a non-empty list", ["claims"], "claims")
    claims: list[Claim] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_claims):
        claim = _parse_claim(doc, index, raw)
        if claim.id in seen:
            raise doc.error(f"duplicate id {claim.id!r}", ["claims", index, "id"], "id")
        seen.add(claim.id)
        claims.append(claim)
    return claims
