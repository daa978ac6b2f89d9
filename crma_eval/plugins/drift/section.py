"""Report section of the drift plugin: per-seed table, loss heatmaps, drift chart, tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from crma_eval.blocks import Figure, KeyValues, Section, Table
from crma_eval.figures import new_figure, svg_of
from crma_eval.fmt import DASH, missing, num, pvalue, signed


def _mean_std(summary: dict[str, Any], digits: int, unit: str = "") -> str:
    std = DASH if missing(summary["std"]) else f"{summary['std']:.{digits}f}"
    return f"{signed(summary['mean'], digits, unit)} ± {std}"


def _seed_table(details: dict[str, Any]) -> Table:
    conds = details["conditions"]
    advs = details["advantages"][::2]  # one direction per pair: earlier condition over later
    seeds = sorted({s["seed"] for c in conds for s in c["seeds"]})
    columns = [
        "Seed",
        *(f"{c['condition']} drift" for c in conds),
        *(f"{c['condition']} holdout" for c in conds),
        *(f"{a['a']} over {a['b']} advantage" for a in advs),
    ]
    rows = []
    for seed in seeds:
        drift = [
            next((signed(s["drift"], 2, "%") for s in c["seeds"] if s["seed"] == seed), DASH)
            for c in conds
        ]
        hold = [
            next((f"{s['holdout']:.4f}" for s in c["seeds"] if s["seed"] == seed), DASH)
            for c in conds
        ]
        adv = [next((signed(v, 2, "%") for s, v in a["seeds"] if s == seed), DASH) for a in advs]
        rows.append([seed, *drift, *hold, *adv])
    rows.append(
        [
            f"{len(seeds)}-seed mean ± std",
            *(_mean_std(c["drift"], 2, "%") for c in conds),
            *(f"{c['holdout']['mean']:.4f} ± {num(c['holdout']['std'], 2)}" for c in conds),
            *(_mean_std(a["summary"], 2, "%") for a in advs),
        ]
    )
    return Table(
        columns=columns,
        rows=rows,
        caption="Per-seed results",
        notes=["std: sample standard deviation (ddof = 1) across seeds."],
    )


def _domain_table(details: dict[str, Any]) -> Table:
    conds = details["conditions"]
    domains = list(dict.fromkeys(d["domain"] for c in conds for d in c["domains"]))
    rows = []
    for c in conds:
        mean = {d["domain"]: d["mean"] for d in c["domains"]}
        rows.append([c["condition"], *(signed(mean.get(d), 2, "%") for d in domains)])
    return Table(
        columns=["Condition", *domains],
        rows=rows,
        caption="Drift per domain (mean over seeds; the last-trained domain has none)",
    )


def _heatmap(cond: dict[str, Any]) -> Figure:
    labels = cond["matrix"]["domains"]
    loss = np.array(
        [[np.nan if v is None else v for v in row] for row in cond["matrix"]["loss"]], dtype=float
    )
    size = len(labels)
    fig, ax = new_figure(width=1.2 + 0.55 * size, height=1.0 + 0.5 * size)
    image = ax.imshow(np.ma.masked_invalid(loss), cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(size), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(size), [str(p + 1) for p in range(size)], fontsize=7)
    ax.set_xlabel("evaluated domain")
    ax.set_ylabel("after phase")
    if size <= 8:
        for (i, j), value in np.ndenumerate(loss):
            if not np.isnan(value):
                bright = image.norm(value) > 0.6  # viridis is light at the top of its range
                ax.text(
                    j,
                    i,
                    f"{value:.3f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="black" if bright else "white",
                )
    return Figure(
        svg=svg_of(fig),
        caption=f"{cond['condition']}: holdout loss L(p, d), "
        f"mean over {len(cond['seeds'])} seed(s)",
    )


def _drift_chart(details: dict[str, Any]) -> Figure:
    conds = details["conditions"]
    fig, ax = new_figure(width=1.5 + 1.1 * len(conds))
    xs = np.arange(len(conds))
    means = [c["drift"]["mean"] for c in conds]
    stds = [0.0 if missing(c["drift"]["std"]) else c["drift"]["std"] for c in conds]
    ax.bar(xs, means, yerr=stds, capsize=3, color="#9ecae1", edgecolor="#3182bd")
    for x, c in zip(xs, conds, strict=True):
        ax.scatter(
            [x] * len(c["seeds"]), [s["drift"] for s in c["seeds"]], color="black", s=10, zorder=3
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(xs, [c["condition"] for c in conds])
    ax.set_ylabel("drift (%)")
    return Figure(
        svg=svg_of(fig),
        caption="Drift per condition: bar = mean, whisker = std, dots = individual seeds",
    )


def _tests_table(details: dict[str, Any]) -> Table:
    rows = []
    for t in details["tests"][::2]:  # one direction per pair: earlier condition first
        w, p = t["welch"], t["permutation"]
        rows.append(
            [
                f"{t['a']} vs {t['b']}",
                signed(p["statistic"], 2, " pp"),
                num(w["statistic"]),
                DASH if missing(w["df"]) else f"{w['df']:.2f}",
                pvalue(w["pvalue"]),
                pvalue(p["pvalue"]),
                pvalue(p["floor"]),
                pvalue(p.get("pvalue_greater")),
                pvalue(p.get("pvalue_less")),
                "exact" if p["exact"] else f"Monte Carlo ({p['n_permutations']})",
                "yes" if t["disjoint"] else "no",
            ]
        )
    columns = [
        "Comparison (drift)",
        "mean difference",
        "Welch t",
        "df",
        "Welch p",
        "permutation p",
        "floor",
        "p (a > b)",
        "p (a < b)",
        "permutation",
        "ranges disjoint",
    ]
    notes = [
        "Permutation p is two-sided (twice the smaller one-sided p); p (a > b) and p (a < b) are "
        "the one-sided p-values of the same exact test (metrics `.permutation.pvalue_greater` / "
        "`.pvalue_less`). 'floor' is the smallest two-sided p attainable with these seeds, so a "
        "p equal to its floor is as strong as the test can be.",
        "Welch's t needs at least 2 seeds per condition.",
    ]
    return Table(
        columns=columns, rows=rows, caption="Between-condition tests on per-seed drift", notes=notes
    )


def _headline(details: dict[str, Any]) -> KeyValues:
    items = [
        (f"{c['condition']} drift", f"{_mean_std(c['drift'], 2, '%')} ({c['drift']['n']} seeds)")
        for c in details["conditions"]
    ]
    return KeyValues(items=items, caption="Loss-relative drift (mean ± sample std across seeds)")


def drift_section(result: dict[str, Any]) -> Section:
    """The per-seed table (as in the paper), heatmaps, the drift chart and the tests table."""
    details = result["details"]
    blocks: list[Any] = [
        _headline(details),
        _seed_table(details),
        _domain_table(details),
        _drift_chart(details),
    ]
    blocks += [_heatmap(c) for c in details["conditions"]]
    if details["tests"]:
        blocks.append(_tests_table(details))
    definitions = [
        ("drift", "(L(T, d) − L(d, d)) / L(d, d) × 100, mean over d < T, per seed"),
        ("learning advantage", "(holdout(b) − holdout(a)) / holdout(b) × 100, seed by seed"),
        ("std", "sample standard deviation (ddof = 1) across seeds"),
        ("Welch t", "unequal-variance t-test on per-seed drift (scipy)"),
        (
            "permutation p",
            "exact two-sample permutation test on per-seed drift: two-sided (2 × smaller "
            "one-sided) and one-sided greater / less",
        ),
    ]
    return Section(
        id="drift",
        title="Forgetting (loss-relative drift)",
        blocks=blocks,
        definitions=definitions,
    )
