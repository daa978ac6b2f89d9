"""Report section of the drift plugin: per-seed table, loss heatmaps, drift chart, tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import Normalize

from crma_eval import (
    DASH,
    display,
    missing,
    new_figure,
    new_panels,
    num,
    ordered,
    pvalue,
    signed,
    svg_of,
)
from crma_eval.api import Figure, KeyValues, Section, Table


def _mean_std(summary: dict[str, Any], digits: int, unit: str = "") -> str:
    std = DASH if missing(summary["std"]) else f"{summary['std']:.{digits}f}"
    return f"{signed(summary['mean'], digits, unit)} ± {std}"


def _conditions(details: dict[str, Any], opts: dict[str, Any]) -> list[dict[str, Any]]:
    """The conditions in the configured order (e.g. NAIVE, FROZEN, MODULAR)."""
    conds = {c["condition"]: c for c in details["conditions"]}
    return [conds[name] for name in ordered(opts, list(conds))]


def _advantage(details: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any] | None:
    """The proposed condition's advantage over its baseline (paper's sign), if both ran."""
    want = (opts.get("proposed"), opts.get("baseline"))
    return next((a for a in details["advantages"] if (a["a"], a["b"]) == want), None)


def _seed_table(details: dict[str, Any], opts: dict[str, Any]) -> Table:
    conds, adv = _conditions(details, opts), _advantage(details, opts)
    seeds = sorted({s["seed"] for c in conds for s in c["seeds"]})
    name = display(opts, opts.get("proposed"))[:3]
    columns = [
        "Seed",
        *(f"{display(opts, c['condition'])} drift (%)" for c in conds),
        *(f"{display(opts, c['condition'])} final holdout (nats/token)" for c in conds),
    ]
    if adv is not None:
        columns.append(f"{name} advantage (%)")
    rows = []
    for seed in seeds:
        row: list[Any] = [seed]
        row += [_at(c["seeds"], seed, "drift", lambda v: signed(v, 2, "%")) for c in conds]
        row += [_at(c["seeds"], seed, "holdout", lambda v: f"{v:.4f}") for c in conds]
        if adv is not None:
            row.append(next((signed(v, 2, "%") for s, v in adv["seeds"] if s == seed), DASH))
        rows.append(row)
    total: list[Any] = [f"mean ± sd (n = {len(seeds)})"]
    total += [_mean_std(c["drift"], 2, "%") for c in conds]
    total += [f"{c['holdout']['mean']:.4f} ± {num(c['holdout']['std'], 2)}" for c in conds]
    if adv is not None:
        total.append(_mean_std(adv["summary"], 2, "%"))
    rows.append(total)
    notes = ["sd: sample standard deviation (ddof = 1) across seeds; n = number of seeds."]
    if adv is not None:
        base, prop = display(opts, adv["b"]), display(opts, adv["a"])
        notes.append(
            f"{name} advantage = (holdout {base} − holdout {prop}) / holdout {base} × 100 %: "
            f"positive means {prop} ends with the lower holdout loss (the paper's sign)."
        )
    return Table(
        columns,
        rows,
        "Per-seed drift, final holdout and advantage",
        notes,
        id="drift-per-seed",
        total_row=True,
    )


def _at(seeds: list[dict[str, Any]], seed: Any, key: str, fmt: Any) -> str:
    return next((fmt(s[key]) for s in seeds if s["seed"] == seed), DASH)


def _domain_table(details: dict[str, Any], opts: dict[str, Any]) -> Table:
    conds = _conditions(details, opts)
    domains = list(dict.fromkeys(d["domain"] for c in conds for d in c["domains"]))
    rows = []
    for c in conds:
        mean = {d["domain"]: d["mean"] for d in c["domains"]}
        rows.append(
            [display(opts, c["condition"]), *(signed(mean.get(d), 2, "%") for d in domains)]
        )
    return Table(
        columns=["Condition", *(f"{d} (%)" for d in domains)],
        rows=rows,
        caption="Drift per domain (mean over seeds; the last-trained domain has none)",
        id="drift-per-domain",
    )


def _loss(cond: dict[str, Any]) -> np.ndarray:
    rows = cond["matrix"]["loss"]
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def _heatmaps(details: dict[str, Any], opts: dict[str, Any]) -> Figure:
    """One panel per condition, side by side, on one shared colour scale."""
    conds = _conditions(details, opts)
    losses = [_loss(c) for c in conds]
    finite = np.concatenate([m[np.isfinite(m)] for m in losses])
    norm = Normalize(vmin=float(finite.min()), vmax=float(finite.max()))
    labels = conds[0]["matrix"]["domains"]
    size = len(labels)
    panel = 0.9 + 0.42 * size
    fig, axes = new_panels(len(conds), 0.9 + panel * len(conds), 1.2 + 0.42 * size)
    for ax, cond, loss in zip(axes, conds, losses, strict=True):
        image = ax.imshow(np.ma.masked_invalid(loss), cmap="viridis", norm=norm, aspect="auto")
        ax.set_title(display(opts, cond["condition"]))
        ax.set_xticks(range(size), labels, rotation=45, ha="right")
        ax.set_yticks(range(size), [str(p + 1) for p in range(size)])
        ax.set_xlabel("evaluated domain")
        if size <= 6:
            for (i, j), value in np.ndenumerate(loss):
                if not np.isnan(value):
                    ax.text(
                        j,
                        i,
                        f"{value:.3f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="black" if norm(value) > 0.6 else "white",
                    )
    axes[0].set_ylabel("after phase")
    fig.colorbar(image, ax=axes, shrink=0.85, label="holdout loss (nats/token)")
    n = len(conds[0]["seeds"])
    return Figure(
        svg=svg_of(fig),
        caption=f"Holdout loss L(p, d) after phase p on domain d, mean over {n} seed(s); all "
        "panels share one colour scale",
        alt="Heatmaps of holdout loss by training phase and evaluated domain, one per condition",
        id="drift-heatmaps",
    )


def _drift_chart(details: dict[str, Any], opts: dict[str, Any]) -> Figure:
    """Drift per seed and condition; a zoomed second panel when one condition dwarfs the rest."""
    conds = _conditions(details, opts)
    size = [max(abs(s["drift"]) for s in c["seeds"]) for c in conds]
    big = max(size)
    small = [c for c, m in zip(conds, size, strict=True) if m < big / 5]
    panels = [conds, small] if small and len(small) < len(conds) else [conds]
    fig, axes = new_panels(len(panels), 3.2 * len(panels) + 0.6, 3.0)
    for ax, shown in zip(axes, panels, strict=True):
        for x, c in enumerate(shown):
            values = [s["drift"] for s in c["seeds"]]
            color = f"C{conds.index(c)}"
            ax.bar(x, c["drift"]["mean"], color=color, alpha=0.35, width=0.6)
            ax.scatter(
                [x] * len(values),
                values,
                color=color,
                s=16,
                zorder=3,
                edgecolor="black",
                linewidth=0.4,
            )
        ax.axhline(0, color="0.4", linewidth=0.8)
        ax.set_xticks(range(len(shown)), [display(opts, c["condition"]) for c in shown])
        ax.set_ylabel("drift (%)")
    if len(panels) == 2:
        axes[0].set_title("all conditions")
        axes[1].set_title("zoomed: small drift")
    return Figure(
        svg=svg_of(fig),
        caption="Drift per condition: bar = mean over seeds, dots = individual seeds"
        + (
            "; the right panel zooms in on the conditions with small drift"
            if len(panels) == 2
            else ""
        ),
        alt="Loss-relative drift per condition and seed",
        id="drift-per-condition",
    )


def _advantage_chart(adv: dict[str, Any], opts: dict[str, Any]) -> Figure:
    """The proposed condition's advantage per seed, with the mean."""
    seeds = [s for s, _ in adv["seeds"]]
    values = [v for _, v in adv["seeds"]]
    fig, ax = new_figure(width=4.2, height=2.6)
    ax.bar(range(len(seeds)), values, color="C2", width=0.6)
    ax.axhline(adv["summary"]["mean"], color="black", linestyle="--", linewidth=1, label="mean")
    ax.axhline(0, color="0.4", linewidth=0.8)
    ax.set_xticks(range(len(seeds)), [str(s) for s in seeds])
    ax.set_xlabel("seed")
    ax.set_ylabel("advantage (%)")
    ax.legend()
    prop, base = display(opts, adv["a"]), display(opts, adv["b"])
    return Figure(
        svg=svg_of(fig),
        caption=f"Advantage of {prop} over {base} per seed: (holdout {base} − holdout {prop}) / "
        f"holdout {base} × 100 %",
        alt=f"Bar chart of the advantage of {prop} over {base} for each seed",
        id="drift-advantage",
    )


def _tests_table(details: dict[str, Any], opts: dict[str, Any]) -> Table:
    rows = []
    for t in details["tests"][::2]:  # one direction per pair: earlier condition first
        w, p = t["welch"], t["permutation"]
        rows.append(
            [
                f"{display(opts, t['a'])} vs {display(opts, t['b'])}",
                signed(p["statistic"], 2, " pp"),
                num(w["statistic"]),
                DASH if missing(w["df"]) else f"{w['df']:.2f}",
                pvalue(w["pvalue"]),
                pvalue(p["pvalue"]),
                pvalue(p["floor"]),
                pvalue(p.get("pvalue_greater")),
                pvalue(p.get("pvalue_less")),
                "exact" if p["exact"] else f"Monte Carlo ({p['n_permutations']})",
                DASH if missing(t.get("mde")) else f"{t['mde']:.2f}",
                "yes" if t["disjoint"] else "no",
            ]
        )
    columns = [
        "Comparison (drift)",
        "mean difference (pp)",
        "Welch t",
        "df",
        "Welch p",
        "permutation p",
        "floor",
        "p (a > b)",
        "p (a < b)",
        "permutation",
        "MDE (pp)",
        "ranges disjoint",
    ]
    notes = [
        "MDE: the smallest true drift difference a two-sample t test on these seeds detects with "
        "80% power at alpha = 1 − confidence (pooled sd, statsmodels TTestIndPower); when the "
        "permutation floor is not below alpha the permutation test detects none.",
        "Permutation p is two-sided (twice the smaller one-sided p); p (a > b) and p (a < b) are "
        "the one-sided p-values of the same exact test (metrics `.permutation.pvalue_greater` / "
        "`.pvalue_less`). 'floor' is the smallest two-sided p attainable with these seeds, so a "
        "p equal to its floor is as strong as the test can be.",
        "Welch's t needs at least 2 seeds per condition.",
    ]
    notes.append(
        "Welch t: the t statistic of Welch's unequal-variance test; df: its degrees of freedom."
    )
    return Table(
        columns, rows, "Between-condition tests on per-seed drift", notes, id="drift-tests"
    )


def _paired_table(details: dict[str, Any], opts: dict[str, Any]) -> Table | None:
    """The paired-by-seed tests (the test used: conditions share seeds), when analysed."""
    tests = [t for t in details["tests"][::2] if "paired" in t]
    if not tests:
        return None
    rows = [
        [
            f"{display(opts, t['a'])} vs {display(opts, t['b'])}",
            t["paired"]["n"],
            signed(t["paired"]["diff"], 2, " pp"),
            f"[{signed(t['paired']['diff_ci_low'], 2)}, {signed(t['paired']['diff_ci_high'], 2)}]",
            num(t["paired"]["statistic"]),
            pvalue(t["paired"]["pvalue"]),
            pvalue(t["paired"]["sign_flip_pvalue"]),
        ]
        for t in tests
    ]
    columns = ["Comparison (drift)", "seeds", "mean paired diff (pp)", "t-interval (pp)",
               "paired t", "paired t p", "sign-flip p (exact)"]  # fmt: skip
    notes = [
        "Conditions share seeds, so the per-seed drift differences are tested (paired t with "
        "n − 1 df and its interval; exact sign-flip test beside it; metrics `.paired.*`). "
        "A dash: the differences are essentially constant, where the t-test is undefined."
    ]
    return Table(columns, rows, "Paired-by-seed tests on per-seed drift (the test used)", notes,
                 id="drift-paired")  # fmt: skip


def _headline(details: dict[str, Any], opts: dict[str, Any]) -> KeyValues:
    items = [
        (
            f"{display(opts, c['condition'])} drift",
            f"{_mean_std(c['drift'], 2, '%')} (n = {c['drift']['n']} seeds)",
        )
        for c in _conditions(details, opts)
    ]
    return KeyValues(items=items, caption="Loss-relative drift (mean ± sample sd across seeds)")


def drift_section(result: dict[str, Any]) -> Section:
    """The paper's per-seed table, drift per domain, drift and advantage charts, shared-scale
    heatmaps and the tests table."""
    details, opts = result["details"], result.get("report", {})
    adv = _advantage(details, opts)
    blocks: list[Any] = [
        _headline(details, opts),
        _seed_table(details, opts),
        _domain_table(details, opts),
        _drift_chart(details, opts),
    ]
    if adv is not None:
        blocks.append(_advantage_chart(adv, opts))
    blocks.append(_heatmaps(details, opts))
    if details["tests"]:
        paired = _paired_table(details, opts)
        if paired is not None:
            blocks.append(paired)
        blocks.append(_tests_table(details, opts))
    definitions = [
        ("drift", "(L(T, d) − L(d, d)) / L(d, d) × 100, mean over d < T, per seed"),
        ("learning advantage", "(holdout(b) − holdout(a)) / holdout(b) × 100, seed by seed"),
        ("std", "sample standard deviation (ddof = 1) across seeds"),
        ("paired t", "t-test of the per-seed drift differences (scipy ttest_rel), n − 1 df"),
        ("Welch t", "unequal-variance t-test on per-seed drift (scipy), seeds as independent"),
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
