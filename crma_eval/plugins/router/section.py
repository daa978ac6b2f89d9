"""Report section of the router plugin: accuracy per category, confusion, coverage curve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from crma_eval import ci_caption, display, interval, new_figure, num, pct, svg_of
from crma_eval.api import Figure, Items, KeyValues, Section, Table
from crma_eval.plugins.router import section_stress

DEFINITIONS = [
    (
        "Correct",
        "The router picked the gold domain's adapter; for out-of-distribution queries "
        "(no gold domain), it abstained.",
    ),
    (
        "Macro F1",
        "Unweighted mean of per-domain F1 over queries with a gold domain; an abstention "
        "counts as a miss.",
    ),
    (
        "OOD AUROC",
        "How well the router's score separates in-distribution from out-of-distribution "
        "queries (1 = perfectly, 0.5 = chance).",
    ),
]


def _correct(row: dict[str, Any]) -> str:
    """'k/n' queries, or with several routers 'n queries (N decisions)'."""
    if "n_observations" in row:
        return f"{row['n']} queries ({row['n_observations']} decisions)"
    return f"{row['k']}/{row['n']}"


def _accuracy_table(details: dict[str, Any], ci: str, result_opts: dict[str, Any]) -> Table:
    rows = [
        [
            display(result_opts, r["category"]),
            _correct(r),
            pct(r["accuracy"]),
            interval(r["ci_low"], r["ci_high"]),
        ]
        for r in [*details["rows"], {"category": "overall", **details["overall"]}]
    ]
    unit = details.get("unit")
    return Table(
        columns=["Category", "Correct", "Accuracy", ci],
        rows=rows,
        caption="Routing accuracy by query category"
        + (f" (unit of analysis: {unit})" if unit else ""),
    )


def _checkpoint_table(details: dict[str, Any], result_opts: dict[str, Any]) -> Table | None:
    """Overall routing accuracy of each checkpoint's own router (several routers only)."""
    if not details.get("checkpoints"):
        return None
    rows = [
        [
            display(result_opts, c["checkpoint"]),
            f"{c['overall']['k']}/{c['overall']['n']}",
            pct(c["overall"]["accuracy"]),
            interval(c["overall"]["ci_low"], c["overall"]["ci_high"]),
        ]
        for c in details["checkpoints"]
    ]
    return Table(
        columns=["Checkpoint", "Correct", "Accuracy", "interval"],
        rows=rows,
        caption="Routing accuracy per checkpoint (each checkpoint's router on its own queries; "
        "metrics router.overall.checkpoint_<id>.*)",
    )


def _confusion_table(confusion: dict[str, Any]) -> Table:
    labels = confusion["labels"]
    rows = [[gold, *counts] for gold, counts in zip(labels, confusion["counts"], strict=True)]
    return Table(
        columns=["gold \\ predicted", *labels],
        rows=rows,
        caption="Confusion matrix ('(none)': no gold domain / router abstained)",
    )


def _confusion_figure(confusion: dict[str, Any]) -> Figure:
    """The confusion matrix shaded by row share (each gold label's queries sum to 100 %)."""
    labels = [str(x) for x in confusion["labels"]]
    counts = np.asarray(confusion["counts"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = len(labels)
    fig, ax = new_figure(width=2.2 + 0.6 * size, height=1.6 + 0.5 * size)
    image = ax.imshow(share * 100, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, shrink=0.8, label="% of the gold label's queries")
    for (i, j), value in np.ndenumerate(counts):
        if size <= 12:
            dark = share[i, j] > 0.55
            ax.text(
                j,
                i,
                f"{value:.0f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(size), labels, rotation=45, ha="right")
    ax.set_yticks(range(size), labels)
    ax.set_xlabel("predicted (router's choice)")
    ax.set_ylabel("gold domain")
    return Figure(
        svg=svg_of(fig),
        caption="Confusion matrix: counts, shaded by share of each gold label's queries "
        "('(none)': no gold domain / router abstained)",
        alt="Router confusion matrix of gold domain against predicted domain",
    )


def _curve(curve: dict[str, list[float]]) -> Figure:
    fig, ax = new_figure(width=4.5, height=3.0)
    ax.plot(
        [100 * c for c in curve["coverage"]],
        [100 * a for a in curve["accuracy"]],
        marker=".",
        markersize=3,
    )
    ax.set_xlabel("coverage (% of queries answered, highest score first)")
    ax.set_ylabel("selective accuracy (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 105)
    return Figure(
        svg=svg_of(fig),
        caption="Selective accuracy vs coverage (answering only the "
        "queries whose router score is above a threshold)",
    )


def _with_interval(details: dict[str, Any], group: str, name: str, n: str) -> str:
    """A value with its bootstrap interval when the analysis computed one (details[group])."""
    value = details.get(name, (details.get(group) or {}).get(name))
    low, high = ((details.get(group) or {}).get(f"{name}_{end}") for end in ("ci_low", "ci_high"))
    if low is None or high is None:
        return f"{num(value, 3)} ({n})"
    skipped = (details.get("bootstrap_skipped") or {}).get(name, 0)
    note = f", {skipped} resamples lacking a class skipped" if skipped else ""
    return f"{num(value, 3)} [{num(low, 3)}, {num(high, 3)}] ({n}; bootstrap interval{note})"


def router_section(result: dict[str, Any]) -> Section:
    """Headline numbers, accuracy per category, confusion matrix and coverage curve."""
    details = result["details"]
    ci = ci_caption(result["methods"])
    n_gold = sum(r["n"] for r in details["rows"] if r["category"] != "ood")
    n_all = details["overall"]["n"]
    has_ood = any(r["category"] == "ood" for r in details["rows"])
    headline = KeyValues(
        items=[
            (
                "overall accuracy",
                f"{pct(details['overall']['accuracy'])} "
                f"{interval(details['overall']['ci_low'], details['overall']['ci_high'])} "
                f"(n = {n_all} queries)",
            ),
            (
                "macro F1",
                _with_interval(details, "f1", "macro_f1", f"n = {n_gold} with a gold domain"),
            ),
            (
                "OOD AUROC",
                _with_interval(details, "ood", "auroc", f"n = {n_all} queries")
                if has_ood
                else "— (no out-of-distribution queries: AUROC undefined)",
            ),
        ],
        caption=f"Router (accuracy: {ci})",
    )
    if "bootstrap" in result["methods"]:
        level = float(result["methods"].get("confidence", 0.95)) * 100
        headline.caption = (
            f"Router (accuracy: {ci}; macro F1 and AUROC: {level:g}% "
            f"{result['methods']['bootstrap']})"
        )
    per_checkpoint = _checkpoint_table(details, result.get("report", {}))
    blocks: list[Any] = [
        headline,
        _accuracy_table(details, ci, result.get("report", {})),
        *([per_checkpoint] if per_checkpoint is not None else []),
        _confusion_table(details["confusion"]),
        _confusion_figure(details["confusion"]),
        _curve(details["curve"]),
        *section_stress.stress_blocks(details, result["methods"]),
    ]
    definitions = [*DEFINITIONS, *section_stress.DEFINITIONS]
    return Section(id="router", title="Router stress test", blocks=blocks, definitions=definitions)


def router_items(
    records: Callable[[str], pd.DataFrame | None], result: dict[str, Any]
) -> list[Items]:
    """Misrouted queries, abstentions and routed OOD queries, with the router's scores."""
    routes = records("route")
    if routes is None:
        return []
    opts = result.get("report", {})
    gold, pred = routes["gold"].where(routes["gold"].notna(), None), routes["predicted"]
    wrong = routes[(gold.fillna("") != pred.where(pred.notna(), None).fillna(""))]
    query = (
        wrong["query"] if "query" in wrong else pd.Series([None] * len(wrong), index=wrong.index)
    )
    rows = [
        [
            "abstained"
            if p is None or p != p
            else ("routed OOD query" if g is None or g != g else "misrouted"),
            display(opts, c),
            i,
            g,
            p,
            float(sc),
            q,
        ]
        for i, c, g, p, sc, q in zip(
            wrong["item_id"],
            wrong["category"],
            wrong["gold"],
            wrong["predicted"],
            wrong["score"],
            query,
            strict=True,
        )
    ]
    return [
        Items(
            "Misrouted, abstained and falsely routed queries",
            ["outcome", "category", "item", "gold", "predicted", "score", "query"],
            rows,
            note="Abstained: no adapter chosen although the query has a gold domain; routed "
            "OOD query: an adapter chosen for a query without one; misrouted: another domain's "
            "adapter.",
            id="router-errors",
        )
    ]
