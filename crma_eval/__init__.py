"""crma_eval: evaluation harness for continual LoRA fine-tuning with a CRMA backbone.

The public API. Plugin authors import only from here; every name is loaded on first use, so
`import crma_eval` stays light (no scipy, statsmodels, matplotlib, jinja2 or torch).

- plugin contract: Plugin, RecordKind, PairSpec, AnalysisResult, AnalyzeOptions, RECORD_CONFIG,
  Name, NonNeg (field types for record schemas), InputError (bad input: exit 2)
- report blocks: Section, Paragraph, Table, Figure, KeyValues; figures: new_figure, svg_of
- formatting and metric helpers: put_metrics, proportion, ci_caption, pct, num, signed, pvalue,
  interval, missing
- collect: Unit, CollectContext, Collector
- pipeline: load_records, analyze_paths, render_report, run_gate
- metric catalogue: MetricInfo, describe (what each metric is: role, unit, n, method, scale)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Plugin": "crma_eval.plugins.base",
    "RecordKind": "crma_eval.plugins.base",
    "PairSpec": "crma_eval.plugins.base",
    "AnalysisResult": "crma_eval.plugins.base",
    "AnalyzeOptions": "crma_eval.plugins.base",
    "RECORD_CONFIG": "crma_eval.plugins.base",
    "Name": "crma_eval.plugins.base",
    "NonNeg": "crma_eval.plugins.base",
    "InputError": "crma_eval.errors",
    "Section": "crma_eval.blocks",
    "Paragraph": "crma_eval.blocks",
    "Table": "crma_eval.blocks",
    "Figure": "crma_eval.blocks",
    "KeyValues": "crma_eval.blocks",
    "new_figure": "crma_eval.figures",
    "svg_of": "crma_eval.figures",
    "put_metrics": "crma_eval.fmt",
    "proportion": "crma_eval.fmt",
    "ci_caption": "crma_eval.fmt",
    "pct": "crma_eval.fmt",
    "num": "crma_eval.fmt",
    "signed": "crma_eval.fmt",
    "pvalue": "crma_eval.fmt",
    "interval": "crma_eval.fmt",
    "missing": "crma_eval.values",
    "Unit": "crma_eval.collect",
    "CollectContext": "crma_eval.collect",
    "Collector": "crma_eval.collect",
    "load_records": "crma_eval.records",
    "analyze_paths": "crma_eval.analyze",
    "render_report": "crma_eval.report.render",
    "run_gate": "crma_eval.gate",
    "MetricInfo": "crma_eval.api.catalogue",
    "describe": "crma_eval.api.catalogue",
}

__all__ = [
    "RECORD_CONFIG",
    "AnalysisResult",
    "AnalyzeOptions",
    "CollectContext",
    "Collector",
    "Figure",
    "InputError",
    "KeyValues",
    "MetricInfo",
    "Name",
    "NonNeg",
    "PairSpec",
    "Paragraph",
    "Plugin",
    "RecordKind",
    "Section",
    "Table",
    "Unit",
    "__version__",
    "analyze_paths",
    "ci_caption",
    "describe",
    "interval",
    "load_records",
    "missing",
    "new_figure",
    "num",
    "pct",
    "proportion",
    "put_metrics",
    "pvalue",
    "render_report",
    "run_gate",
    "signed",
    "svg_of",
]

if TYPE_CHECKING:
    from crma_eval.analyze import analyze_paths
    from crma_eval.api.catalogue import MetricInfo, describe
    from crma_eval.blocks import Figure, KeyValues, Paragraph, Section, Table
    from crma_eval.collect import CollectContext, Collector, Unit
    from crma_eval.errors import InputError
    from crma_eval.figures import new_figure, svg_of
    from crma_eval.fmt import (
        ci_caption,
        interval,
        num,
        pct,
        proportion,
        put_metrics,
        pvalue,
        signed,
    )
    from crma_eval.gate import run_gate
    from crma_eval.plugins.base import (
        RECORD_CONFIG,
        AnalysisResult,
        AnalyzeOptions,
        Name,
        NonNeg,
        PairSpec,
        Plugin,
        RecordKind,
    )
    from crma_eval.records import load_records
    from crma_eval.report.render import render_report
    from crma_eval.values import missing


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crma_eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
