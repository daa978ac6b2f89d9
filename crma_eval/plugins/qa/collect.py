"""QA collector: generate answers to each domain's QA items under each arm (`qa` records).

An arm chooses the adapter per item: `oracle` (the item's own domain), `router` (the
checkpoint's router picks; the choice is recorded as `routed_domain`) or `none`; CRMA is on when
the arm asks for it and the checkpoint has one. Answers are scored by the configured scorers
(`crma_eval.scorers`, run config section `scorers:`); `match` keeps the rule of
`crma_eval.scoring.score` that matched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crma_eval import (
    Arm,
    CollectContext,
    InputError,
    Unit,
    data_hash,
    parse_number,
    read_items,
    score,
    score_records,
)

if TYPE_CHECKING:
    from crma_eval import Checkpoint


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


def _usable(ck: Checkpoint, domain: str | None) -> str | None:
    """`domain` if the checkpoint has a trained adapter for it, else None (base)."""
    ok = domain is not None and domain in ck.trained_domains and ck.adapter_path(domain)
    return domain if ok else None


class QACollector:
    """One unit per (checkpoint, arm, QA domain); final checkpoints unless qa_checkpoints = all
    (or the arm's own `checkpoints: all`)."""

    plugin = "qa"

    def units(self, ctx: CollectContext) -> list[Unit]:
        """Chosen checkpoints × arms × QA domains (an arm asking for CRMA on a checkpoint
        without it is an InputError on the arm's config line). An oracle arm is not asked about a
        domain its checkpoint has not trained yet (with `qa_checkpoints: all`): there is no
        adapter to choose, and scoring the bare base there would pass for forgetting."""

        def every(arm: Arm) -> bool:  # the arm's own `checkpoints`, else the run's
            return (arm.checkpoints or ctx.config.qa_checkpoints) == "all"

        chosen = [ck for ck in ctx.checkpoints if ck.is_final or any(map(every, ctx.config.arms))]
        ctx.config.check_arms(chosen)
        return [
            Unit(self.plugin, ck.id, arm.name, domain)
            for ck in chosen
            for arm in ctx.config.arms
            if arm.applies_to(ck) and (every(arm) or ck.is_final)
            for domain in ctx.config.data.per_domain("qa")
            if arm.adapter != "oracle" or domain in ck.trained_domains
        ]

    def fingerprint_inputs(self, unit: Unit, ctx: CollectContext) -> dict[str, Any]:
        """What a unit depends on beyond its checkpoint: QA file, arm, generation, limit."""
        arm = next(a for a in ctx.config.arms if a.name == unit.arm)
        return {
            "qa": data_hash(ctx.config.data.per_domain("qa")[unit.domain]),
            "arm": arm.model_dump(mode="json"),
            "generation": ctx.config.generation.model_dump(mode="json"),
            "limit": ctx.config.limit,
        }

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
        items = read_qa(ctx.config.data.per_domain("qa")[unit.domain])[: ctx.config.limit]
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
                    "answer_type": item["answer_type"],
                    "correct": result.correct,
                    "question": item["question"],
                    "reference": item["reference"],
                    "prediction": prediction,
                    "routed_domain": routed_domain,
                    "seed": seed,
                    "condition": condition,
                    "checkpoint": ck.id,
                    "after_phase": ck.phase,
                    "domain_order": list(ck.manifest.domain_order),
                    "match": result.match,
                    "adapter": adapter,
                    "crma": crma_on,
                }
            )
        score_records(records, ctx.config.scorers)
        return records
