"""crma_eval: evaluation harness for continual LoRA fine-tuning with a CRMA backbone.

The public API. Plugin authors (built-in and third-party) import only from here and from
`crma_eval.api`; every name is loaded on first use, so `import crma_eval` stays light (no scipy,
statsmodels, matplotlib, jinja2 or torch).

- the contract (also importable from crma_eval.api): Plugin, RecordKind, PairSpec,
  AnalysisResult, AnalyzeOptions, DataShape, RECORD_CONFIG, field types Name, Num, Int, NonNeg,
  Bool01; report blocks Section, Paragraph, Table, Figure, KeyValues, Items, Block; collect
  protocols Unit, CollectContext, Collector, Executor, Session, UnitFailure; InputError
- figures and formatting: forest_svg, new_figure, new_panels, svg_of, put_metrics, proportion,
  ci_caption, pct, num, signed, pvalue, interval, missing, display, ordered, item_rows,
  optional_column
- statistics (crma_eval.stats): proportion_ci, mcnemar, holm, sign_flip_test, welch_t, ...
- records, data and checkpoints: load_records, iter_records, write_records, read_items,
  read_holdout, Checkpoint, load_checkpoint, RunConfig, RunDir, EngineSession, FakeSession
- pipeline: analyze_paths, render_report, run_gate
- metric catalogue: MetricInfo, describe (what each metric is: role, unit, n, method, scale)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crma_eval.versions import __version__

_EXPORTS: dict[str, str] = {
    "MDE_METHOD": "crma_eval.stats.equivalence",
    "comparison_mde": "crma_eval.stats.equivalence",
    "metric_name": "crma_eval.naming",
    "seeds_mde": "crma_eval.stats.power",
    "analyze_paths": "crma_eval.analyze",
    "AnalysisResult": "crma_eval.api",
    "AnalyzeOptions": "crma_eval.api",
    "Block": "crma_eval.api",
    "Bool01": "crma_eval.api",
    "CollectContext": "crma_eval.api",
    "Collector": "crma_eval.api",
    "DataShape": "crma_eval.api",
    "Executor": "crma_eval.api",
    "Figure": "crma_eval.api",
    "Int": "crma_eval.api",
    "Items": "crma_eval.api",
    "KeyValues": "crma_eval.api",
    "Name": "crma_eval.api",
    "NonNeg": "crma_eval.api",
    "Num": "crma_eval.api",
    "PairSpec": "crma_eval.api",
    "Paragraph": "crma_eval.api",
    "Plugin": "crma_eval.api",
    "RECORD_CONFIG": "crma_eval.api",
    "RecordKind": "crma_eval.api",
    "Section": "crma_eval.api",
    "Session": "crma_eval.api",
    "Table": "crma_eval.api",
    "Unit": "crma_eval.api",
    "UnitFailure": "crma_eval.api",
    "write_text_atomic": "crma_eval.atomicio",
    "ood_file": "crma_eval.resources",
    "tasks_dir": "crma_eval.resources",
    "Checkpoint": "crma_eval.checkpoint",
    "load_checkpoint": "crma_eval.checkpoint",
    "base_model_fingerprint": "crma_eval.checkpoint.basemodel",
    "mixing_stats": "crma_eval.checkpoint.sinkhorn",
    "read_holdout": "crma_eval.collect.data",
    "read_items": "crma_eval.collect.data",
    "read_jsonl": "crma_eval.collect.data",
    "data_hash": "crma_eval.collect.fingerprint",
    "Arm": "crma_eval.config",
    "RunConfig": "crma_eval.config",
    "read_csv": "crma_eval.csvsafe",
    "write_csv": "crma_eval.csvsafe",
    "item_rows": "crma_eval.drilldown",
    "optional_column": "crma_eval.drilldown",
    "EngineSession": "crma_eval.engine",
    "FakeSession": "crma_eval.engine.fake",
    "PrefixSharedLM": "crma_eval.engine.prefix_lm",
    "InputError": "crma_eval.errors",
    "forest_svg": "crma_eval.figures",
    "new_figure": "crma_eval.figures",
    "new_panels": "crma_eval.figures",
    "svg_of": "crma_eval.figures",
    "DASH": "crma_eval.fmt",
    "ci_caption": "crma_eval.fmt",
    "ci_methods": "crma_eval.fmt",
    "first_row": "crma_eval.fmt",
    "in_order": "crma_eval.fmt",
    "interval": "crma_eval.fmt",
    "num": "crma_eval.fmt",
    "pct": "crma_eval.fmt",
    "proportion": "crma_eval.fmt",
    "put_metrics": "crma_eval.fmt",
    "pvalue": "crma_eval.fmt",
    "signed": "crma_eval.fmt",
    "where": "crma_eval.fmt",
    "run_gate": "crma_eval.gate",
    "display": "crma_eval.labels",
    "ordered": "crma_eval.labels",
    "check_unique": "crma_eval.naming",
    "slug": "crma_eval.naming",
    "NumberSpan": "crma_eval.numbers",
    "canonical": "crma_eval.numbers",
    "find_numbers": "crma_eval.numbers",
    "normalise": "crma_eval.numbers",
    "numbers_equal": "crma_eval.numbers",
    "parse_number": "crma_eval.numbers",
    "read_number_words": "crma_eval.numbers",
    "conditions": "crma_eval.pairing",
    "item_clusters": "crma_eval.pairing",
    "of_condition": "crma_eval.pairing",
    "pair": "crma_eval.pairing",
    "pair_shared": "crma_eval.pairing",
    "repeats_items": "crma_eval.pairing",
    "select_slugged": "crma_eval.pairing",
    "with_items": "crma_eval.pairing",
    "SOURCE_COLUMNS": "crma_eval.records",
    "iter_records": "crma_eval.records",
    "load_records": "crma_eval.records",
    "record_json": "crma_eval.records",
    "validate_record": "crma_eval.records",
    "write_records": "crma_eval.records",
    "render_report": "crma_eval.report.render",
    "majority": "crma_eval.review.agreement",
    "point_kappas": "crma_eval.review.agreement",
    "score_records": "crma_eval.scorers.apply",
    "scorer_blocks": "crma_eval.scorers.section",
    "score": "crma_eval.scoring",
    "CLUSTERED_METHOD": "crma_eval.stats",
    "SIGN_FLIP_METHOD": "crma_eval.stats",
    "benjamini_hochberg": "crma_eval.stats",
    "cluster_se": "crma_eval.stats",
    "clustered_proportion": "crma_eval.stats",
    "group_summary": "crma_eval.stats",
    "holm": "crma_eval.stats",
    "mcnemar": "crma_eval.stats",
    "mcnemar_from_pairs": "crma_eval.stats",
    "paired_difference_ci": "crma_eval.stats",
    "permutation_test": "crma_eval.stats",
    "proportion_ci": "crma_eval.stats",
    "ranges_disjoint": "crma_eval.stats",
    "sign_flip_test": "crma_eval.stats",
    "welch_t": "crma_eval.stats",
    "paired_t": "crma_eval.stats",
    "essentially_constant": "crma_eval.stats",
    "REPEATED_INTERVAL": "crma_eval.stats.repeated",
    "repeated_difference": "crma_eval.stats.repeated",
    "DEFAULT_RESAMPLES": "crma_eval.stats.resample",
    "rows_bootstrap_ci": "crma_eval.stats.resample",
    "RunDir": "crma_eval.store",
    "write_json_atomic": "crma_eval.store",
    "missing": "crma_eval.values",
    "library_versions": "crma_eval.versions",
    "YamlDoc": "crma_eval.yamlio",
    "MetricInfo": "crma_eval.api.catalogue",
    "describe": "crma_eval.api.catalogue",
}

__all__ = [
    "CLUSTERED_METHOD",
    "DASH",
    "DEFAULT_RESAMPLES",
    "MDE_METHOD",
    "RECORD_CONFIG",
    "REPEATED_INTERVAL",
    "SIGN_FLIP_METHOD",
    "SOURCE_COLUMNS",
    "AnalysisResult",
    "AnalyzeOptions",
    "Arm",
    "Block",
    "Bool01",
    "Checkpoint",
    "CollectContext",
    "Collector",
    "DataShape",
    "EngineSession",
    "Executor",
    "FakeSession",
    "Figure",
    "InputError",
    "Int",
    "Items",
    "KeyValues",
    "MetricInfo",
    "Name",
    "NonNeg",
    "Num",
    "NumberSpan",
    "PairSpec",
    "Paragraph",
    "Plugin",
    "PrefixSharedLM",
    "RecordKind",
    "RunConfig",
    "RunDir",
    "Section",
    "Session",
    "Table",
    "Unit",
    "UnitFailure",
    "YamlDoc",
    "__version__",
    "analyze_paths",
    "base_model_fingerprint",
    "benjamini_hochberg",
    "canonical",
    "check_unique",
    "ci_caption",
    "ci_methods",
    "cluster_se",
    "clustered_proportion",
    "comparison_mde",
    "conditions",
    "data_hash",
    "describe",
    "display",
    "essentially_constant",
    "find_numbers",
    "first_row",
    "forest_svg",
    "group_summary",
    "holm",
    "in_order",
    "interval",
    "item_clusters",
    "item_rows",
    "iter_records",
    "library_versions",
    "load_checkpoint",
    "load_records",
    "majority",
    "mcnemar",
    "mcnemar_from_pairs",
    "metric_name",
    "missing",
    "mixing_stats",
    "new_figure",
    "new_panels",
    "normalise",
    "num",
    "numbers_equal",
    "of_condition",
    "ood_file",
    "optional_column",
    "ordered",
    "pair",
    "pair_shared",
    "paired_difference_ci",
    "paired_t",
    "parse_number",
    "pct",
    "permutation_test",
    "point_kappas",
    "proportion",
    "proportion_ci",
    "put_metrics",
    "pvalue",
    "ranges_disjoint",
    "read_csv",
    "read_holdout",
    "read_items",
    "read_jsonl",
    "read_number_words",
    "record_json",
    "render_report",
    "repeated_difference",
    "repeats_items",
    "rows_bootstrap_ci",
    "run_gate",
    "score",
    "score_records",
    "scorer_blocks",
    "seeds_mde",
    "select_slugged",
    "sign_flip_test",
    "signed",
    "slug",
    "svg_of",
    "tasks_dir",
    "validate_record",
    "welch_t",
    "where",
    "with_items",
    "write_csv",
    "write_json_atomic",
    "write_records",
    "write_text_atomic",
]

if TYPE_CHECKING:
    from crma_eval.analyze import analyze_paths
    from crma_eval.api import (
        RECORD_CONFIG,
        AnalysisResult,
        AnalyzeOptions,
        Block,
        Bool01,
        CollectContext,
        Collector,
        DataShape,
        Executor,
        Figure,
        Int,
        Items,
        KeyValues,
        Name,
        NonNeg,
        Num,
        PairSpec,
        Paragraph,
        Plugin,
        RecordKind,
        Section,
        Session,
        Table,
        Unit,
        UnitFailure,
    )
    from crma_eval.api.catalogue import MetricInfo, describe
    from crma_eval.atomicio import write_text_atomic
    from crma_eval.checkpoint import Checkpoint, load_checkpoint
    from crma_eval.checkpoint.basemodel import base_model_fingerprint
    from crma_eval.checkpoint.sinkhorn import mixing_stats
    from crma_eval.collect.data import read_holdout, read_items, read_jsonl
    from crma_eval.collect.fingerprint import data_hash
    from crma_eval.config import Arm, RunConfig
    from crma_eval.csvsafe import read_csv, write_csv
    from crma_eval.drilldown import item_rows, optional_column
    from crma_eval.engine import EngineSession
    from crma_eval.engine.fake import FakeSession
    from crma_eval.engine.prefix_lm import PrefixSharedLM
    from crma_eval.errors import InputError
    from crma_eval.figures import forest_svg, new_figure, new_panels, svg_of
    from crma_eval.fmt import (
        DASH,
        ci_caption,
        ci_methods,
        first_row,
        in_order,
        interval,
        num,
        pct,
        proportion,
        put_metrics,
        pvalue,
        signed,
        where,
    )
    from crma_eval.gate import run_gate
    from crma_eval.labels import display, ordered
    from crma_eval.naming import check_unique, metric_name, slug
    from crma_eval.numbers import (
        NumberSpan,
        canonical,
        find_numbers,
        normalise,
        numbers_equal,
        parse_number,
        read_number_words,
    )
    from crma_eval.pairing import (
        conditions,
        item_clusters,
        of_condition,
        pair,
        pair_shared,
        repeats_items,
        select_slugged,
        with_items,
    )
    from crma_eval.records import (
        SOURCE_COLUMNS,
        iter_records,
        load_records,
        record_json,
        validate_record,
        write_records,
    )
    from crma_eval.report.render import render_report
    from crma_eval.resources import ood_file, tasks_dir
    from crma_eval.review.agreement import majority, point_kappas
    from crma_eval.scorers.apply import score_records
    from crma_eval.scorers.section import scorer_blocks
    from crma_eval.scoring import score
    from crma_eval.stats import (
        CLUSTERED_METHOD,
        SIGN_FLIP_METHOD,
        benjamini_hochberg,
        cluster_se,
        clustered_proportion,
        essentially_constant,
        group_summary,
        holm,
        mcnemar,
        mcnemar_from_pairs,
        paired_difference_ci,
        paired_t,
        permutation_test,
        proportion_ci,
        ranges_disjoint,
        sign_flip_test,
        welch_t,
    )
    from crma_eval.stats.equivalence import MDE_METHOD, comparison_mde
    from crma_eval.stats.power import seeds_mde
    from crma_eval.stats.repeated import REPEATED_INTERVAL, repeated_difference
    from crma_eval.stats.resample import DEFAULT_RESAMPLES, rows_bootstrap_ci
    from crma_eval.store import RunDir, write_json_atomic
    from crma_eval.values import missing
    from crma_eval.versions import library_versions
    from crma_eval.yamlio import YamlDoc


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
