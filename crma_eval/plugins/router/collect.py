"""Router collector: route every query of the stress suite with each final checkpoint's router."""

from __future__ import annotations

from typing import Any

from crma_eval import CollectContext, InputError, Unit, data_hash, read_items
from crma_eval.plugins.router.records import ROUTE_CATEGORIES


def read_suite(path: Any) -> list[dict[str, Any]]:
    """Router suite items {item_id, query, category, gold (domain or null), optional acceptable
    (domains that also count as right)} of one JSONL file."""
    items = read_items(path, ("query", "category"))
    for item in items:
        if item["category"] not in ROUTE_CATEGORIES:
            raise InputError(
                f"must be one of {', '.join(ROUTE_CATEGORIES)}",
                path=path,
                line=item["_line"],
                field="category",
            )
        if "gold" not in item:
            raise InputError(
                "missing (use null for OOD)", path=path, line=item["_line"], field="gold"
            )
        if item["gold"] is not None and not isinstance(item["gold"], str):
            raise InputError(
                "must be a domain name or null", path=path, line=item["_line"], field="gold"
            )
        acceptable = item.get("acceptable")
        if acceptable is not None and not (
            isinstance(acceptable, list) and all(isinstance(d, str) for d in acceptable)
        ):
            raise InputError(
                "must be a list of domain names", path=path, line=item["_line"], field="acceptable"
            )
        if item["category"] == "ood" and (item["gold"] is not None or acceptable):
            raise InputError(
                "an ood query has gold null and no acceptable domains",
                path=path,
                line=item["_line"],
                field="gold",
            )
    return items


class RouterCollector:
    """One unit per final checkpoint that ships a router."""

    plugin = "router"

    def units(self, ctx: CollectContext) -> list[Unit]:
        """Final checkpoints with a router (none without a router suite)."""
        if ctx.config.data.file("router_suite") is None:
            return []
        return [
            Unit(self.plugin, ck.id, "-", "suite")
            for ck in ctx.checkpoints
            if ck.is_final and ck.manifest.router is not None
        ]

    def fingerprint_inputs(self, unit: Unit, ctx: CollectContext) -> dict[str, Any]:
        """What a unit depends on beyond its checkpoint: the router suite."""
        return {"router_suite": data_hash(ctx.config.data.file("router_suite"))}

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """`route` records of every suite query at one checkpoint."""
        ck = ctx.checkpoint(unit.checkpoint)
        items = read_suite(ctx.config.data.file("router_suite"))
        router = ck.router
        routes = router.route(ctx.session().embed([it["query"] for it in items]))
        return [
            {
                "kind": "route",
                "item_id": item["item_id"],
                "category": item["category"],
                "gold": item["gold"],
                "predicted": route.predicted,
                "score": route.score,
                "margin": route.margin,
                "scores": route.scores,
                "confidence": route.confidence,
                "acceptable": item.get("acceptable"),
                "query": item["query"],
                "checkpoint": ck.id,
            }
            for item, route in zip(items, routes, strict=True)
        ]
