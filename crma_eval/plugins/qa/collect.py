"""QA collector: generate answers to each domain's QA items under each arm (`qa` records).

An arm chooses the adapter per item: `oracle` (the item's own domain), `router` (the
checkpoint's router picks; the choice is recorded as `routed_domain`) or `none`; CRMA is on when
the arm asks for it and the checkpoint has one. Answers are scored by `crma_eval.scoring`.
"""

from __future__ import annotations

from typing import Any

from crma_eval.collect import CollectContext, Unit
from crma_eval.collect.data import read_items
from crma_eval.config import Arm
from crma_eval.errors import InputError
from crma_eval.scoring import parse_number, score


def read_qa(path: Any) -> list[dict[str, Any]]:
    """QA items {item_id, question, reference[, answer_type: text|number]} of one JSONL file."""
    items = read_items(path, ("question", "reference"))
    for item in items:
        kind = item.setdefault("answer_type", "text")
        if kind not in ("text", "number"):
            raise InputError(
                f"answer_type must be 'text' or 'number', got {kind!r}",
                path=path,
                line=item["_line"],
                field="answer_type",
            )
        if kind == "number" and parse_number(item["reference"]) is None:
            raise InputError("reference is not a number", path=path, line=item["_line"])
    return items


def _usable(ck: Any, domain: str | None) -> str | None:
    """`domain` if the checkpoint has a trained adapter for it, else None (base)."""
    ok = domain is not None and domain in ck.trained_domains and ck.adapter_path(domain)
    return domain if ok else None


class QACollector:
    """One unit per (checkpoint, arm, QA domain); final checkpoints unless qa_checkpoints = all."""

    plugin = "qa"

    def units(self, ctx: CollectContext) -> list[Unit]:
        """Chosen checkpoints × arms × QA domains."""
        every = ctx.config.qa_checkpoints == "all"
        return [
            Unit(self.plugin, ck.id, arm.name, domain)
            for ck in ctx.checkpoints
            if every or ck.is_final
            for arm in ctx.config.arms
            if arm.applies_to(ck)
            for domain in ctx.config.data.qa
        ]

    def _plan(
        self, arm: Arm, ck: Any, domain: str, items: list[dict[str, Any]], ctx: CollectContext
    ) -> tuple[list[str | None], list[str | None]]:
        """Per item: the adapter domain to use and (router arm) the routed domain."""
        if arm.adapter == "none":
            return [None] * len(items), [None] * len(items)
        if arm.adapter == "oracle":
            return [_usable(ck, domain)] * len(items), [None] * len(items)
        embeddings = ctx.session().embed([it["question"] for it in items])
        routed = [route.predicted for route in ck.router.route(embeddings)]
        return [_usable(ck, d) for d in routed], routed

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """Answers and scores of one domain's QA items under one arm at one checkpoint."""
        ck = ctx.checkpoint(unit.checkpoint)
        arm = next(a for a in ctx.config.arms if a.name == unit.arm)
        gen = ctx.config.generation
        items = read_qa(ctx.config.data.qa[unit.domain])
        adapters, routed = self._plan(arm, ck, unit.domain, items, ctx)
        session = ctx.session()
        predictions: list[str] = [""] * len(items)
        crma_on = False
        for adapter in sorted(set(adapters), key=lambda d: (d is not None, d or "")):
            idx = [i for i, a in enumerate(adapters) if a == adapter]
            crma_on = session.activate(ck, adapter, crma=arm.crma).crma
            prompts = [gen.prompt_template.replace("{question}", items[i]["question"]) for i in idx]
            for i, answer in zip(
                idx, session.generate(prompts, gen.max_new_tokens, gen.stop), strict=True
            ):
                predictions[i] = answer
        training = ck.manifest.training
        seed = training.seed if training else None
        condition = training.condition if training else None  # results never pool conditions
        records = []
        for item, prediction, adapter, routed_domain in zip(
            items, predictions, adapters, routed, strict=True
        ):
            result = score(prediction, item["reference"], item["answer_type"])
            records.append(
                {
                    "kind": "qa",
                    "arm": arm.name,
                    "domain": unit.domain,
                    "item_id": item["item_id"],
                    "correct": result.correct,
                    "question": item["question"],
                    "reference": item["reference"],
                    "prediction": prediction,
                    "routed_domain": routed_domain,
                    "seed": seed,
                    "condition": condition,
                    "checkpoint": ck.id,
                    "match": result.match,
                    "adapter": adapter,
                    "crma": crma_on,
                }
            )
        return records
