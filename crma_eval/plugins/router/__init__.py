"""Router plugin: is each query sent to the right adapter (and are OOD queries refused)?"""

from __future__ import annotations

from typing import ClassVar

from crma_eval.api import DataShape, Plugin, RecordKind
from crma_eval.plugins.router.records import ROUTE_KIND


class RouterPlugin(Plugin):
    """Routing accuracy per stress category, macro F1, OOD AUROC and a coverage curve."""

    name: ClassVar[str] = "router"
    title: ClassVar[str] = "Router stress test"
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (ROUTE_KIND,)
    kinds: ClassVar[tuple[str, ...]] = ("route", "qa")
    order: ClassVar[int] = 50
    collector: ClassVar[str | None] = ".collect:RouterCollector"
    data: ClassVar[dict[str, DataShape]] = {"router_suite": "file"}
    analysis: ClassVar[str | None] = ".analysis:analyze_router"
    analysis_reads_all: ClassVar[bool] = True  # the oracle gap also reads `qa`
    section: ClassVar[str | None] = ".section:router_section"
    items: ClassVar[str | None] = ".section:router_items"
    commands: ClassVar[dict[str, str]] = {"router-suite": ".suite_cli:router_suite"}
