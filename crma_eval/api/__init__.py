"""The contract layer every stage, built-in plugin and third-party plugin builds on.

Nothing here imports another part of crma_eval, nor anything heavy:

- errors (crma_eval.api.errors): InputError, the bad input that exits 2 (also importable from
  `crma_eval.errors`)

- plugin contract (crma_eval.api.plugin): Plugin, RecordKind, PairSpec, AnalysisResult,
  AnalyzeOptions, DataShape, RECORD_CONFIG and the record field types Name, Num, Int, NonNeg,
  Bool01
- registry (crma_eval.api.registry): plugins, get_plugin, record_kinds, data_entries,
  load_object, crma_module, router_class and the entry-point groups
- report blocks (crma_eval.api.blocks): Section, Paragraph, Table, Figure, KeyValues, Items, Block
- metric catalogue (crma_eval.api.catalogue): MetricInfo, describe, describe_family and the
  interval / method labels
- collect protocols (crma_eval.api.collect): Unit, CollectContext, Collector, Executor, Session,
  UnitFailure, Progress
"""

from __future__ import annotations

from crma_eval.api.blocks import Block, Figure, Items, KeyValues, Paragraph, Section, Table
from crma_eval.api.catalogue import (
    MetricInfo,
    describe,
    describe_family,
    interval_label,
    interval_labels,
    method_label,
)
from crma_eval.api.collect import (
    CollectContext,
    Collector,
    Executor,
    Progress,
    Session,
    Unit,
    UnitFailure,
)
from crma_eval.api.errors import InputError
from crma_eval.api.plugin import (
    MAX_MAGNITUDE,
    RECORD_CONFIG,
    AnalysisResult,
    AnalyzeOptions,
    Bool01,
    DataShape,
    Int,
    Name,
    NonNeg,
    Num,
    PairSpec,
    Plugin,
    RecordKind,
    finite_number,
    import_path,
)
from crma_eval.api.registry import (
    data_entries,
    get_plugin,
    load_object,
    plugins,
    record_kinds,
)

__all__ = [
    "MAX_MAGNITUDE",
    "RECORD_CONFIG",
    "AnalysisResult",
    "AnalyzeOptions",
    "Block",
    "Bool01",
    "CollectContext",
    "Collector",
    "DataShape",
    "Executor",
    "Figure",
    "InputError",
    "Int",
    "Items",
    "KeyValues",
    "MetricInfo",
    "Name",
    "NonNeg",
    "Num",
    "PairSpec",
    "Paragraph",
    "Plugin",
    "Progress",
    "RecordKind",
    "Section",
    "Session",
    "Table",
    "Unit",
    "UnitFailure",
    "data_entries",
    "describe",
    "describe_family",
    "finite_number",
    "get_plugin",
    "import_path",
    "interval_label",
    "interval_labels",
    "load_object",
    "method_label",
    "plugins",
    "record_kinds",
]
