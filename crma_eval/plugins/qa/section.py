"""Report section of the QA plugin: accuracy table and bar chart with interval whiskers."""

from __future__ import annotations

from typing import Any

import numpy as np

from crma_eval.blocks import Figure, KeyValues, Paragraph, Section, Table
from crma_eval.figures import new_figure, svg_of
from crma_eval.fmt import DASH, ci_caption, interval, missing, pct
from crma_eval.report.context import display

OVERALL = "all domains"


def _table(rows: list[dict[str, Any]], routing: bool, ci: str, opts: dict[str, Any]) -> Table:
    columns = ["Arm", "Domain", "Correct", "Accuracy", ci]
    if routing:
        columns.append("Misrouted")
    body = []
    for row in rows:
        cells = [
            display(opts, row["arm"]),
            OVERALL if row["domain"] is None else row["domain"],
            f"{row['k']}/{row['n']}",
            pct(row["accuracy"]),
            interval(row["ci_low"], row["ci_high"]),
        ]
        if routing:
            cells.append(DASH if "misrouted" not in row else f"{row['misrouted']}/{row['routed']}")
        body.append(cells)
    notes = []
    if routing:
        notes.append(
            "Misrouted: of all answers of a routed arm, those whose routed_domain differs from "
            "the item's domain or is missing (the router abstained). A routing failure sends the "
            "query to the wrong adapter and looks like forgetting even though nothing was "
            "forgotten."
        )
    return Table(
        columns=columns,
        rows=body,
        caption="QA accuracy by arm and domain",
        notes=notes,
        id="qa-accuracy",
    )


def _figure(rows: list[dict[str, Any]], ci: str, opts: dict[str, Any]) -> Figure:
    """Accuracy per domain and arm as points with interval whiskers, domains down the page (so
    labels stay horizontal and readable at phone width, however many domains)."""
    per_domain = [r for r in rows if r["domain"] is not None]
    arms = list(dict.fromkeys(r["arm"] for r in per_domain))
    domains = list(dict.fromkeys(r["domain"] for r in per_domain))
    fig, ax = new_figure(width=5.5, height=1.1 + 0.22 * len(domains) * max(1, len(arms)) ** 0.5)
    step = 0.7 / len(arms)
    for i, arm in enumerate(arms):
        mine = {r["domain"]: r for r in per_domain if r["arm"] == arm}
        got = [mine[d] for d in domains if d in mine]
        ys = [j + (i - (len(arms) - 1) / 2) * step for j, d in enumerate(domains) if d in mine]
        acc = np.array([100 * r["accuracy"] for r in got])
        low = np.array([0.0 if missing(r["ci_low"]) else 100 * r["ci_low"] for r in got])
        high = np.array([100.0 if missing(r["ci_high"]) else 100 * r["ci_high"] for r in got])
        ax.errorbar(
            acc,
            ys,
            xerr=[acc - low, high - acc],
            fmt="o",
            markersize=3.5,
            elinewidth=1,
            label=display(opts, arm),
        )
    ax.set_yticks(range(len(domains)), [str(d) for d in domains])
    ax.invert_yaxis()  # first domain on top, as in the tables
    ax.set_xlabel("accuracy (%)")
    ax.set_xlim(0, 100)
    ax.legend(fontsize=7, loc="lower left")
    return Figure(
        svg=svg_of(fig),
        caption=f"Accuracy per domain and arm: point = accuracy, whiskers = {ci}",
        alt="Dot plot of accuracy per domain and arm with interval whiskers",
        id="qa-accuracy-chart",
    )


def _arm_pair(rows: list[dict[str, Any]], opts: dict[str, Any]) -> tuple[str, str] | None:
    """(proposed arm, baseline arm) from the display options, else the first two arms."""
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    wanted = (opts.get("proposed_arm"), opts.get("baseline_arm"))
    if all(a in arms for a in wanted):
        return str(wanted[0]), str(wanted[1])
    return (arms[0], arms[1]) if len(arms) >= 2 else None


def _side_by_side(rows: list[dict[str, Any]], pair: tuple[str, str], opts: dict[str, Any]) -> Table:
    """The paper's per-domain table: k/n and accuracy of both arms, difference, totals row."""
    cell = {(r["arm"], r["domain"]): r for r in rows}
    domains = [d for d in dict.fromkeys(r["domain"] for r in rows) if d is not None]
    names = [display(opts, a) for a in pair]
    body = []
    for domain in [*domains, None]:
        got = [cell.get((arm, domain)) for arm in pair]
        line: list[Any] = [OVERALL if domain is None else domain]
        for r in got:
            line += [DASH, DASH] if r is None else [f"{r['k']}/{r['n']}", pct(r["accuracy"])]
        ok = all(r is not None for r in got)
        diff = 100 * (got[0]["accuracy"] - got[1]["accuracy"]) if ok else None  # type: ignore[index]
        line.append(DASH if diff is None else f"{diff:+.1f} pp")
        body.append(line)
    return Table(
        columns=[
            "Domain",
            f"{names[0]} k/n",
            f"{names[0]} accuracy",
            f"{names[1]} k/n",
            f"{names[1]} accuracy",
            f"difference ({names[0]} − {names[1]})",
        ],
        rows=body,
        caption=f"Per-domain accuracy {names[0]} and {names[1]} (k correct of n)",
        notes=["Paired test of the difference: see the paired ablation section."],
        id="qa-side-by-side",
        total_row=True,
    )


def qa_section(result: dict[str, Any]) -> Section:
    """Headline accuracy per arm, the per-domain table and a bar chart."""
    rows = result["details"]["rows"]
    ci = ci_caption(result["methods"])
    totals = [r for r in rows if r["domain"] is None]
    headline = KeyValues(
        items=[
            (
                display(result.get("report", {}), r["arm"]),
                f"{r['k']}/{r['n']} = {pct(r['accuracy'])} {interval(r['ci_low'], r['ci_high'])}",
            )
            for r in totals
        ],
        caption=f"Overall accuracy, k/n = correct of answered ({ci})",
    )
    opts = result.get("report", {})
    pair = _arm_pair(rows, opts)
    blocks: list[Any] = [headline]
    if pair is not None:
        blocks.append(_side_by_side(rows, pair, opts))
    blocks += [
        _table(rows, bool(result["details"].get("routing")), ci, opts),
        _figure(rows, ci, opts),
        Paragraph(f"Intervals: {ci}, computed per arm and domain from k correct of n answered."),
        *_scorer_blocks(result, ci),
    ]
    return Section(id="qa", title="Domain QA accuracy", blocks=blocks)


def _scorer_blocks(result: dict[str, Any], ci: str) -> list[Paragraph | Table]:
    """Scorers side by side (crma_eval.scorers.section), when the analysis compared them."""
    from crma_eval.scorers.section import scorer_blocks

    return scorer_blocks(result["details"].get("scorers"), ci)
