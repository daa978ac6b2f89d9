"""Report section of the router plugin: accuracy per category, confusion, coverage curve."""

from __future__ import annotations

from typing import Any

from crma_eval.blocks import Figure, KeyValues, Section, Table
from crma_eval.figures import new_figure, svg_of
from crma_eval.fmt import ci_caption, interval, num, pct
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


def _accuracy_table(details: dict[str, Any], ci: str) -> Table:
    rows = [
        [
            r["category"],
            f"{r['k']}/{r['n']}",
            pct(r["accuracy"]),
            interval(r["ci_low"], r["ci_high"]),
        ]
        for r in [*details["rows"], {"category": "overall", **details["overall"]}]
    ]
    return Table(
        columns=["Category", "Correct", "Accuracy", ci],
        rows=rows,
        caption="Routing accuracy by query category",
    )


def _confusion_table(confusion: dict[str, Any]) -> Table:
    labels = confusion["labels"]
    rows = [[gold, *counts] for gold, counts in zip(labels, confusion["counts"], strict=True)]
    return Table(
        columns=["gold \\ predicted", *labels],
        rows=rows,
        caption="Confusion matrix ('(none)': no gold domain / router abstained)",
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


def router_section(result: dict[str, Any]) -> Section:
    """Headline numbers, accuracy per category, confusion matrix and coverage curve."""
    details = result["details"]
    ci = ci_caption(result["methods"])
    headline = KeyValues(
        items=[
            (
                "overall accuracy",
                f"{pct(details['overall']['accuracy'])} "
                f"{interval(details['overall']['ci_low'], details['overall']['ci_high'])}",
            ),
            ("macro F1", num(details["macro_f1"], 3)),
            ("OOD AUROC", num(details["auroc"], 3)),
        ],
        caption=f"Router ({ci})",
    )
    blocks = [
        headline,
        _accuracy_table(details, ci),
        _confusion_table(details["confusion"]),
        _curve(details["curve"]),
        *section_stress.stress_blocks(details, result["methods"]),
    ]
    definitions = [*DEFINITIONS, *section_stress.DEFINITIONS]
    return Section(id="router", title="Router stress test", blocks=blocks, definitions=definitions)
