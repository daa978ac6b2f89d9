"""Report section of the QA plugin: accuracy table and bar chart with interval whiskers."""

from __future__ import annotations

from typing import Any

import numpy as np

from crma_eval import DASH, display, interval, metric_name, missing, new_figure, pct, svg_of
from crma_eval.api import (
    Figure,
    KeyValues,
    MetricInfo,
    Paragraph,
    Section,
    Table,
    interval_label,
    interval_labels,
    method_label,
)

OVERALL = "all domains"
DEFINITIONS = [
    ("Wilson score interval", "interval for k correct of n independent answers (statsmodels)"),
    (
        "repeated measures",
        "an item (domain, item_id) answered under several seeds or checkpoints; the item, not "
        "the answer, is the unit of analysis",
    ),
    (
        "item-clustered interval (clustered-cr1)",
        "hull of Wilson's interval on the effective n = answers / design effect and the CR1 Wald "
        "interval p ± z·SE clipped to [0, 1]; design effect = "
        "CR1 cluster-robust variance (clusters = items, as statsmodels OLS cov_type='cluster') "
        "over p(1-p)/answers, at least 1 (Miller 2024, arXiv 2411.00640)",
    ),
    ("per-seed rows", "accuracy of each seed alone; mean ± sample std (ddof=1) across seeds"),
    ("condition", "training condition from the checkpoint manifest; never pooled"),
]


METHOD_LABEL = {
    "clustered-cr1": "item-clustered CR1 (Wilson on effective n ∪ Wald, in [0, 1])",
}


def interval_info(
    result: dict[str, Any], row: dict[str, Any], parts: tuple[Any, ...] = ()
) -> MetricInfo:
    """The catalogue entry of a row's interval (its `ci_low`): method, n of units, confidence.

    Results written before the catalogue (no `metric_info`) get the entry from the row itself.
    """
    head = (
        ("qa", row["arm"], *parts)
        if parts
        else ("qa", row["arm"], row.get("condition"), row["domain"])
    )
    found = (result.get("metric_info") or {}).get(metric_name(*head, "ci_low"))
    if found is not None and not found.fallback:
        return found
    level = float((result.get("methods") or {}).get("confidence", 0.95))
    n = row.get("n_items", row.get("n"))
    return MetricInfo(
        "interval_bound", "accuracy interval", unit="item", n=None if n is None else int(n),
        method=row.get("method") or (result.get("methods") or {}).get("ci"), confidence=level,
        direction="higher",
    )  # fmt: skip


def _label(row: dict[str, Any], opts: dict[str, Any] | None = None) -> str:
    """An arm's display name, with its training condition when the records carry several."""
    arm = display(opts or {}, row["arm"])
    return (
        arm if row.get("condition") is None else f"{arm} ({display(opts or {}, row['condition'])})"
    )


def _table(
    rows: list[dict[str, Any]], routing: bool, infos: list[MetricInfo], opts: dict[str, Any]
) -> Table:
    repeated = any("n_items" in r for r in rows)
    level = next((f"{100 * i.confidence:g}% " for i in infos if i.confidence), "")
    methods = {i.method for i in infos}
    ci = f"{method_label(methods.pop())} {level}CI" if len(methods) == 1 else f"{level}CI"
    columns = ["Arm", "Domain", "Correct", "Accuracy", ci, "items", "interval method"]
    if repeated:
        columns.insert(6, "answers")
    if routing:
        columns.append("Misrouted")
    body = []
    for row, info in zip(rows, infos, strict=True):
        cells = [
            _label(row, opts),
            OVERALL if row["domain"] is None else row["domain"],
            f"{row['k']}/{row['n']}",
            pct(row["accuracy"]),
            interval(row["ci_low"], row["ci_high"]),
            DASH if info.n is None else info.n,
        ]
        if repeated:
            cells.append(row.get("n_observations", row["n"]))
        cells.append(METHOD_LABEL.get(str(info.method), method_label(info.method)))
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
    if repeated:
        notes.append(
            "Items answered several times (seeds or checkpoints) are repeated measures: the pooled "
            "accuracy's interval is item-clustered: the hull of Wilson's on the effective n = "
            "answers / design effect and the CR1 Wald interval clipped to [0, 1], both from the "
            "item-clustered (CR1) standard error (Miller 2024, arXiv 2411.00640)."
        )
    return Table(
        columns=columns,
        rows=body,
        caption=f"QA accuracy by arm and domain; intervals: {interval_labels(infos)}",
        notes=notes,
        id="qa-accuracy",
    )


def _replicates(
    result: dict[str, Any], rows: list[dict[str, Any]], opts: dict[str, Any]
) -> Table | None:
    """Per-seed (or per-checkpoint) accuracy of repeated-measures rows and their mean ± std."""
    body = []
    for row in rows:
        column = row.get("replicate")
        if column is None:
            continue
        domain = OVERALL if row["domain"] is None else row["domain"]
        for rep in row["replicates"]:
            parts = (row.get("condition"), row["domain"], f"{column}_{rep[column]}")
            info = interval_info(result, {**rep, "arm": row["arm"]}, parts)
            body.append(
                [
                    _label(row, opts),
                    domain,
                    f"{column} {rep[column]}",
                    f"{rep['k']}/{rep['n']}",
                    pct(rep["accuracy"]),
                    f"{interval(rep['ci_low'], rep['ci_high'])} ({interval_label(info)})",
                ]
            )
        summary = row["replicate_summary"]
        spread = DASH if missing(summary["std"]) else f"± {pct(summary['std'])}"
        body.append(
            [
                _label(row, opts),
                domain,
                f"mean of {summary['n']}",
                "",
                pct(summary["mean"]),
                f"{spread} (sample std)",
            ]
        )
    if not body:
        return None
    columns = ["Arm", "Domain", "Replicate", "Correct", "Accuracy", "interval / spread"]
    return Table(
        columns=columns,
        rows=body,
        caption="QA accuracy per seed (repeated measures)",
        id="qa-replicates",
    )


def _figure(rows: list[dict[str, Any]], infos: list[MetricInfo], opts: dict[str, Any]) -> Figure:
    """Accuracy per domain and arm as points with interval whiskers, domains down the page (so
    labels stay horizontal and readable at phone width, however many domains)."""
    per_domain = [r for r in rows if r["domain"] is not None]
    ci = interval_labels([i for r, i in zip(rows, infos, strict=True) if r["domain"] is not None])
    arms = list(dict.fromkeys(_label(r, opts) for r in per_domain))
    domains = list(dict.fromkeys(r["domain"] for r in per_domain))
    fig, ax = new_figure(width=5.5, height=1.1 + 0.22 * len(domains) * max(1, len(arms)) ** 0.5)
    step = 0.7 / len(arms)
    for i, arm in enumerate(arms):
        mine = {r["domain"]: r for r in per_domain if _label(r, opts) == arm}
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
            label=arm,
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


def _side_by_sides(
    rows: list[dict[str, Any]], pair: tuple[str, str], opts: dict[str, Any]
) -> list[Table]:
    """One side-by-side table per training condition in which both arms answered."""
    tables = []
    for cond in dict.fromkeys(r.get("condition") for r in rows):
        mine = [r for r in rows if r.get("condition") == cond]
        if {r["arm"] for r in mine} >= set(pair):
            tables.append(_side_by_side(mine, pair, opts, cond))
    return tables


def _side_by_side(
    rows: list[dict[str, Any]], pair: tuple[str, str], opts: dict[str, Any], cond: Any = None
) -> Table:
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
        caption=f"Per-domain accuracy {names[0]} and {names[1]} (k correct of n)"
        + ("" if cond is None else f", condition {display(opts, cond)}"),
        notes=["Paired test of the difference: see the paired ablation section."],
        id="qa-side-by-side" + ("" if cond is None else f"-{cond}"),
        total_row=True,
    )


def qa_section(result: dict[str, Any]) -> Section:
    """Headline accuracy per arm, the per-domain table and a bar chart; every interval labelled
    with its method and n of units from the metric catalogue (`result["metric_info"]`)."""
    rows = result["details"]["rows"]
    infos = [interval_info(result, r) for r in rows]
    totals = [(r, i) for r, i in zip(rows, infos, strict=True) if r["domain"] is None]
    headline = KeyValues(
        items=[
            (
                _label(r, result.get("report", {})),
                f"{r['k']}/{r['n']} = {pct(r['accuracy'])} {interval(r['ci_low'], r['ci_high'])}"
                f" ({interval_label(i)})",
            )
            for r, i in totals
        ],
        caption="Overall accuracy, k/n = correct of answered; intervals: "
        f"{interval_labels(i for _, i in totals)}",
    )
    opts = result.get("report", {})
    pair = _arm_pair(rows, opts)
    blocks: list[Any] = [headline]
    if pair is not None:
        blocks += _side_by_sides(rows, pair, opts)
    replicates = _replicates(result, rows, opts)
    blocks += [
        _table(rows, bool(result["details"].get("routing")), infos, opts),
        *([replicates] if replicates is not None else []),
        _figure(rows, infos, opts),
        Paragraph(
            f"Intervals: {interval_labels(infos)}, computed per arm and domain from the answers "
            "(k correct of n answered; the unit of analysis is the item)."
        ),
        *_scorer_blocks(result),
    ]
    return Section(id="qa", title="Domain QA accuracy", blocks=blocks, definitions=DEFINITIONS)


def _scorer_blocks(result: dict[str, Any]) -> list[Paragraph | Table]:
    """Scorers side by side (crma_eval.scorers.section), when the analysis compared them."""
    from crma_eval import scorer_blocks

    details = result["details"].get("scorers")
    infos = [
        interval_info(result, r, ("scorer", r["scorer"])) for r in (details or {}).get("rows", [])
    ]
    return scorer_blocks(details, infos)
