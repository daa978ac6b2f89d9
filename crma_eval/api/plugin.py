"""The plugin contract: a named evaluation that owns its record kinds, options, data files, collect
step, analysis, report section, drill-down lists, definitions and the metrics `gate --baseline`
can pair per item.

A plugin is a declaration: class attributes name what it reads and where its code lives, as
dotted paths (`package.module:attribute`, or `.module:attribute` relative to the plugin's own
package) imported only when used. Its class module must stay light: importing it (which
`crma-eval plugins` and every record read do) may not import scipy, statsmodels, scikit-learn,
matplotlib, jinja2 or torch.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from crma_eval.api.blocks import Items, Section
    from crma_eval.api.catalogue import MetricInfo

# The pydantic configuration every record schema uses: unknown extra fields are kept, numbers
# given where text belongs become text, NaN/inf are refused.
RECORD_CONFIG = ConfigDict(extra="allow", coerce_numbers_to_str=True, allow_inf_nan=False)
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _no_bool(value: Any) -> Any:
    """Refuse booleans where a number belongs (pydantic's lax mode reads true as 1)."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_not_bool", "expected a number, got a boolean")
    return value


def _bool01(value: Any) -> bool:
    """true/false, 1/0 (numbers, or text from CSV cells) as a boolean; anything else refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.strip().lower()]
    raise PydanticCustomError(
        "bool01", "expected true/false or 1/0, got {value}", {"value": repr(value)[:40]}
    )


# The largest magnitude a record number may have: squares of such values, and sums of millions of
# them, stay finite in float64, so no statistic overflows to inf (1e306 passes "finite" but its
# square does not). Whole numbers stay within int64, the columns pandas and numpy compute on.
MAX_MAGNITUDE = 1e100
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


def finite_number(value: float, limit: float = MAX_MAGNITUDE) -> bool:
    """Whether a number is finite and of magnitude at most `limit` (safe to compute with): a
    record value, or one derived from them (a ratio such as relative drift can leave the bound
    when its denominator is tiny)."""
    return math.isfinite(value) and abs(value) <= limit


# Field types record schemas share: non-empty text; finite numbers (|x| <= MAX_MAGNITUDE) that
# refuse booleans; whole numbers within int64; a finite number >= 0; a boolean that also reads
# 0/1 (CSV cells, data frames).
Name = Annotated[str, Field(min_length=1)]
Num = Annotated[float, BeforeValidator(_no_bool), Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
Int = Annotated[int, BeforeValidator(_no_bool), Field(ge=MIN_INT, le=MAX_INT)]
NonNeg = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=MAX_MAGNITUDE)]
Bool01 = Annotated[bool, BeforeValidator(_bool01)]


@dataclass(frozen=True)
class RecordKind:
    """A record kind a plugin declares (records carry `"kind": name`).

    schema: a `typing_extensions.TypedDict` whose `kind` field is `Literal[name]`, validated by
    pydantic straight from each JSON line (its `__pydantic_config__` defaults to RECORD_CONFIG).
    key: the fields that identify one record; a second record with the same key is a duplicate
    (optional key fields take part when present). nullable: required fields that may be null.
    """

    name: str
    schema: type
    key: tuple[str, ...]
    nullable: frozenset[str] = frozenset()
    description: str = ""

    def __post_init__(self) -> None:
        if not hasattr(self.schema, "__pydantic_config__"):
            self.schema.__pydantic_config__ = RECORD_CONFIG  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PairSpec:
    """How one metric's per-item records pair between two runs (`gate --baseline`, `compare`).

    kind: the record kind; select: the records of one run (a DataFrame of `kind`) the metric
    covers; keys: candidate fields identifying an item (crma_eval.pairing matches on those both
    runs carry); value: the per-item 0/1 outcome column. prepare (optional): given both runs'
    selected records (baseline, current), returns them with any derived key column (e.g. bench's
    content-hash `document`), raising InputError when the sides cannot be the same items.
    """

    kind: str
    select: Callable[[pd.DataFrame], pd.DataFrame]
    keys: tuple[str, ...]
    value: str
    prepare: Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]] | None = None

    def sides(self, base: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Both runs' selected records, prepared for pairing (empty sides left as they are)."""
        if self.prepare is None or base.empty or current.empty:
            return base, current
        return self.prepare(base, current)


@dataclass
class AnalysisResult:
    """What one plugin's analysis produced.

    metrics: flat dotted names (`<plugin>.<arm|condition>[.<domain>].<stat>`) to numbers; gates
    address these. details: JSON-serialisable tables for the report. methods: the statistical
    methods used (e.g. {"ci": "wilson", "test": "mcnemar-exact"}), copied into results.json meta.
    skipped: why a plugin that had records produced no result (results.json
    `plugins.<name>.skipped`, printed on stderr and in the report); None when it has one.
    metric_info: metric name -> MetricInfo (crma_eval.api.catalogue) for each metric, gathered
    into results.json `meta.metric_info`; a metric without one gets a fallback entry.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None
    metric_info: dict[str, MetricInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalyzeOptions:
    """Options shared by every analysis (from the CLI or a run config); `extra` holds the run
    config's `options` mapping (`extra[<plugin>]` is that plugin's validated options)."""

    confidence: float = 0.95
    ci_method: str = "wilson"
    mcnemar_method: str = "exact"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


DataShape = Literal["file", "per_domain"]


def import_path(path: str, package: str | None = None) -> Any:
    """The object a dotted path `package.module:attribute` names; `.module:attribute` is relative
    to `package`. Raises ImportError or AttributeError (a packaging bug, not bad input)."""
    module_name, sep, attr = path.partition(":")
    if not sep or not attr:
        raise ValueError(f"{path!r} is not a dotted path `package.module:attribute`")
    return getattr(importlib.import_module(module_name, package), attr)


class Plugin:
    """Base class of every plugin: a subclass declares class attributes; the base does the work.

    name: entry-point name and metric prefix. title: section title. record_kinds: the kinds this
    plugin declares. kinds: the kinds it reads (its own or another plugin's; default: the names of
    `record_kinds`); the first is its main kind: without records of it there is no analysis.
    order: place in reports and listings (built-ins use 10..60). options_model: pydantic model of
    `options.<name>` in a run config. data: the entries of the run config's `data` section it
    reads (`file`: one path; `per_domain`: domain -> path). definitions: (term, definition) pairs
    printed in the report's definitions block.

    Dotted paths (imported when used): collector: its collect step's class (crma_eval.api.collect
    .Collector), or None. analysis: `f(frame, options) -> AnalysisResult | None`, called with the
    main kind's frame (with every frame when `analysis_reads_all`), never with an empty one.
    section: `f(result) -> Section` from the plugin's results.json entry. items: `f(records,
    result) -> list[Items]`, the drill-down lists (see `report_items`). A plugin overrides a
    method only where it needs more (e.g. `pairing`). commands: CLI verbs the plugin adds,
    verb -> dotted path of a click command (`crma-eval <verb>`).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    record_kinds: ClassVar[tuple[RecordKind, ...]] = ()
    kinds: ClassVar[tuple[str, ...]] = ()
    order: ClassVar[int] = 100
    collector: ClassVar[str | None] = None
    options_model: ClassVar[type[BaseModel] | None] = None
    data: ClassVar[dict[str, DataShape]] = {}
    definitions: ClassVar[tuple[tuple[str, str], ...]] = ()
    analysis: ClassVar[str | None] = None
    analysis_reads_all: ClassVar[bool] = False
    section: ClassVar[str | None] = None
    items: ClassVar[str | None] = None
    commands: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.kinds and cls.record_kinds:
            cls.kinds = tuple(kind.name for kind in cls.record_kinds)

    def load(self, path: str) -> Any:
        """The object a dotted path names, relative paths against this plugin's package."""
        return import_path(path, sys.modules[type(self).__module__].__package__)

    def load_collector(self) -> Any:
        """A new instance of this plugin's collector (None when it collects nothing)."""
        return self.load(self.collector)() if self.collector else None

    def analyze(
        self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions
    ) -> AnalysisResult | None:
        """Compute this plugin's numbers from the record frames (one per kind); None without
        records of its main kind or without an `analysis`."""
        main = frames.get(self.kinds[0]) if self.kinds else None
        if self.analysis is None or main is None or main.empty:
            return None
        result: AnalysisResult | None = self.load(self.analysis)(
            frames if self.analysis_reads_all else main, options
        )
        return result

    def report_section(self, result: dict[str, Any]) -> Section | None:
        """Build this plugin's report section from its results.json entry (details, methods)."""
        if self.section is None:
            return None
        section: Section = self.load(self.section)(result)
        return section

    def pairing(self, metric: str) -> PairSpec | None:
        """How `metric` (one of this plugin's) pairs item by item between runs; None: it doesn't."""
        return None

    def report_items(
        self, records: Callable[[str], pd.DataFrame | None], result: dict[str, Any]
    ) -> list[Items]:
        """Drill-down lists (e.g. discordant items) from this run's records; none by default.

        `records(kind)` returns RUN_DIR/records/<kind>.jsonl as a DataFrame (None when absent);
        `result` is the plugin's results.json entry plus `report` (display options).
        """
        if self.items is None:
            return []
        found: list[Items] = self.load(self.items)(records, result)
        return found
