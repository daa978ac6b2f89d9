"""Report section of the ablation plugin: one McNemar table per pair of arms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crma_eval import display, forest_svg, num, pct, pvalue, slug
from crma_eval.api import Figure, KeyValues, Paragraph, Section, Table

DIFF_KEYS = ("diff", "diff_ci_low", "diff_ci_high")
TITLE = "Paired ablation (McNemar; item-level test for repeated items)"
TEST_LABEL = {
    "mcnemar-exact": "McNemar exact binomial test",
    "mcnemar-midp": "McNemar mid-p test",
    "mcnemar-chi2": "McNemar chi-square test with continuity correction",
    "sign-flip-permutation": "exact sign-flip permutation test on per-item differences",
    "sign-flip-permutation (Monte Carlo)": "seeded Monte Carlo sign-flip permutation test on "
    "per-item differences",
}


DEFINITIONS = [
    ("McNemar exact", "two-sided binomial test of b ~ Bin(b + c, 1/2) (as statsmodels)"),
    ("McNemar mid-p", "exact p minus the probability of the observed b (Fagerland et al. 2013)"),
    ("McNemar chi-square", "continuity-corrected chi-square, 1 df; b = c gives 0 and p = 1 (R)"),
    ("Newcombe interval", "paired square-and-add of Wilson intervals (Newcombe 1998, method 10)"),
    (
        "sign-flip permutation",
        "item-level test for repeated items: per-item total difference, exact null distribution "
        "(lattice convolution for 0/1 answers; all 2^n flips for n <= 20 other values), else "
        "100,000 seeded Monte Carlo flips and their negations",
    ),
    (
        "clustered difference interval",
        "pooled difference ± t(items − 1) × CR1 item-clustered SE, in [−1, 1] (the test's "
        "estimand)",
    ),
    ("Holm", "family-wise error control over the domains of one pair of arms"),
    ("Benjamini–Hochberg", "false discovery rate control over the same family"),
    ("pairing", "every key both arms carry; checkpoint dropped when the arms' ids differ"),
]


def _test_label(methods: str) -> str:
    return "; ".join(TEST_LABEL.get(m, m) for m in methods.split("; "))


def _cells(label: str, row: dict[str, Any], holm: bool) -> list[Any]:
    n = row["n"] if "n_items" not in row else f"{row['n_items']} items / {row['n']} answers"
    cells = [
        label,
        n,
        pct(row["acc_a"]),
        pct(row["acc_b"]),
        f"{100 * row['diff']:+.1f} pp [{100 * row['diff_ci_low']:+.1f}, "
        f"{100 * row['diff_ci_high']:+.1f}]",
        row["b"],
        row["c"],
        num(row["statistic"]),
        pvalue(row["pvalue"]),
    ]
    adjusted = [pvalue(row["pvalue_holm"]), pvalue(row["pvalue_bh"])] if holm else ["—", "—"]
    return [*cells, *adjusted, _mde(row), _test_label(row.get("method", ""))]


def _mde(row: dict[str, Any]) -> str:
    """The minimum detectable difference in pp ('none' when no difference is detectable)."""
    mde = row.get("mde")
    if mde is None:
        return "—"
    return "none" if math.isnan(mde) else f"{100 * mde:.1f}"


def _names(pair: dict[str, Any], opts: dict[str, Any]) -> tuple[str, str]:
    """The pair's arms by their display names (e.g. 'with CRMA', 'without CRMA')."""
    return display(opts, pair["a"]), display(opts, pair["b"])


def _condition(pair: dict[str, Any], opts: dict[str, Any]) -> str:
    """', condition MODULAR' when the pair compares arms within one training condition."""
    cond = pair.get("condition")
    return "" if cond is None else f", condition {display(opts, cond)}"


def _interval_name(row: dict[str, Any]) -> str:
    """The difference interval's method: Newcombe for one answer per item, else clustered."""
    return "item-clustered (CR1)" if "n_items" in row else "Newcombe"


def _pair_id(prefix: str, pair: dict[str, Any]) -> str:
    """A stable anchor unique per pair of arms and condition."""
    return f"{prefix}-{pair['a']}-vs-{pair['b']}-{slug(pair.get('condition') or 'all')}"


def _pair_table(pair: dict[str, Any], test: str, level: str, opts: dict[str, Any]) -> Table:
    a, b = _names(pair, opts)
    repeated = "n_items" in pair["overall"]
    only = "items with more right answers under {}" if repeated else "items right under {} only"
    columns = [
        "Domain",
        "n",
        f"acc {a}",
        f"acc {b}",
        f"difference (pp) [{level} CI]",
        f"b: {only.format(a)}",
        f"c: {only.format(b)}",
        "test statistic",
        "p",
        "p (Holm)",
        "p (BH)",
        "MDE (pp)",
        "test",
    ]
    rows = [_cells(d["domain"], d, True) for d in pair["domains"]]
    rows.append(_cells("all domains", pair["overall"], False))
    notes = [
        f"difference = accuracy {a} − accuracy {b}; b and c count items, never answers: "
        + (
            f"an item counts in b when more of its answers are right under {a} than under {b} "
            "(c: the reverse), the per-item totals the item-level sign-flip test uses"
            if repeated
            else f"b: items right under {a} only, c: items right under {b} only — the "
            "discordant items (the only ones the test uses; listed below)"
        )
        + ".",
        "Test statistic: min of the two discordant counts for the exact/mid-p tests; "
        "(|difference of counts| − 1)² / discordant for the chi-square test.",
        f"p: {test}. Holm (family-wise) and Benjamini–Hochberg (false discovery rate) "
        "adjustments run over the family of this pair's domains.",
        "Difference interval: Newcombe's paired square-and-add of Wilson intervals (one answer "
        "per item); mean difference ± z × item-clustered (CR1) standard error, clipped to "
        "[−1, 1] (items answered several times, where b and c count items, not answers).",
        "MDE: the smallest true difference the test detects with 80% power at alpha = 1 − "
        "confidence (McNemar normal approximation from the observed discordance; paired t on "
        "per-item differences with the measured design effect for repeated items); a "
        "non-significant p says nothing about differences smaller than it.",
        f"Pairing: {pair.get('pairing', '')}.",
    ]
    return Table(
        columns=columns,
        rows=rows,
        caption=f"{a} vs {b}{_condition(pair, opts)} (paired on the same items)",
        notes=notes,
        id=_pair_id("ablation", pair),
        total_row=True,
    )


def _forest(
    rows: list[dict[str, Any]], labels: list[str], xlabel: str, overall_last: bool = True
) -> str:
    """A forest plot (SVG) of differences with their intervals, one row each, top to bottom;
    with `overall_last` the last row is the overall one, drawn as a diamond. Values are
    fractions (rows[i][DIFF_KEYS]), shown in percentage points."""
    diff, low, high = (100 * np.array([r[k] for r in rows], float) for k in DIFF_KEYS)
    return forest_svg(diff, low, high, labels, xlabel, emphasized=int(overall_last), color="C1")


def _domain_forest(pair: dict[str, Any], level: str, opts: dict[str, Any]) -> Figure:
    """The pair's paired differences per domain and over all domains, with their intervals."""
    a, b = _names(pair, opts)
    rows = [*pair["domains"], pair["overall"]]
    labels = [*(str(r["domain"]) for r in pair["domains"]), "all domains"]
    return Figure(
        svg=_forest(rows, labels, f"accuracy {a} − {b} (percentage points)"),
        caption=f"{a} − {b}{_condition(pair, opts)}: paired difference per domain with its "
        f"{level} {_interval_name(pair['overall'])} interval (diamond: all domains, "
        f"n = {pair['overall'].get('n_items', pair['overall']['n'])} items)",
        alt=f"Forest plot of the accuracy difference {a} minus {b} by domain",
        id=_pair_id("ablation-forest", pair),
    )


def _pairs_forest(pairs: list[dict[str, Any]], level: str, opts: dict[str, Any]) -> Figure:
    """Every pair's overall difference (all domains), one row per pair."""
    rows = [p["overall"] for p in pairs]
    labels = ["{} − {}{}".format(*_names(p, opts), _condition(p, opts)) for p in pairs]
    return Figure(
        svg=_forest(rows, labels, "difference (percentage points)", overall_last=False),
        caption=f"Every pair of arms: paired accuracy difference over all domains with its {level} "
        "interval (Newcombe for one answer per item, item-clustered CR1 when items repeat; "
        "per-domain rows: the pair's table)",
        alt="Forest plot of the overall accuracy difference of every pair of arms",
        id="ablation-forest-pairs",
    )


def _main_pair(pairs: list[dict[str, Any]], opts: dict[str, Any]) -> dict[str, Any]:
    """The configured proposed-vs-baseline pair of arms (either order), else the first pair."""
    wanted = {opts.get("proposed_arm"), opts.get("baseline_arm")}
    return next((p for p in pairs if {p["a"], p["b"]} == wanted), pairs[0])


def _headline(pairs: list[dict[str, Any]], test: str, opts: dict[str, Any]) -> KeyValues:
    items = []
    for pair in pairs:
        row = pair["overall"]
        text = (
            f"{pct(row['acc_a'])} vs {pct(row['acc_b'])} (n = {row['n']}), "
            f"Δ {100 * row['diff']:+.1f} pp [{100 * row['diff_ci_low']:+.1f}, "
            f"{100 * row['diff_ci_high']:+.1f}] ({_interval_name(row)}), "
            f"discordant items b/c {row['b']}/{row['c']}, "
            f"p = {pvalue(row['pvalue'])}"
        )
        items.append(("{} vs {}{}".format(*_names(pair, opts), _condition(pair, opts)), text))
    return KeyValues(items=items, caption=f"Paired arms ({test})")


def ablation_section(result: dict[str, Any]) -> Section:
    """A McNemar table (b and c always shown) for every pair of arms answering the same items."""
    if result.get("skipped"):
        reason = Paragraph(f"No paired comparison: {result['skipped']}.")
        return Section(id="ablation", title=TITLE, blocks=[reason])
    methods, opts = result["methods"], result.get("report", {})
    test = _test_label(methods.get("test", ""))
    level = f"{float(methods.get('confidence', 0.95)) * 100:g}%"
    blocks: list[Any] = [
        Paragraph(
            "Each pair of arms is matched on the same items (every key both arms carry: domain "
            "and item_id, plus seed, checkpoint and condition where given); unmatched items are "
            f"an error. Test: {test}."
        )
    ]
    pairs = result["details"]["pairs"]
    blocks.insert(0, _headline(pairs, test, opts))
    main = _main_pair(pairs, opts)
    for pair in pairs:
        blocks.append(_pair_table(pair, test, level, opts))
        if pair is main:  # per-domain forest for the paper's pair; the others share one below
            blocks.append(_domain_forest(pair, level, opts))
    if len(pairs) > 1:
        blocks.append(_pairs_forest(pairs, level, opts))
    return Section(id="ablation", title=TITLE, blocks=blocks, definitions=DEFINITIONS)
