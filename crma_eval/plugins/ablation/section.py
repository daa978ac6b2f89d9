"""Report section of the ablation plugin: one McNemar table per pair of arms."""

from __future__ import annotations

from typing import Any

from crma_eval.blocks import Figure, KeyValues, Paragraph, Section, Table
from crma_eval.figures import new_figure, svg_of
from crma_eval.fmt import num, pct, pvalue
from crma_eval.naming import slug

TEST_LABEL = {
    "mcnemar-exact": "McNemar exact binomial test",
    "mcnemar-midp": "McNemar mid-p test",
    "mcnemar-chi2": "McNemar chi-square test with continuity correction",
    "sign-flip-permutation": "exact sign-flip permutation test on per-item mean differences",
    "sign-flip-permutation (Monte Carlo)": "seeded Monte Carlo sign-flip permutation test on "
    "per-item mean differences",
}


DEFINITIONS = [
    ("McNemar exact", "two-sided binomial test of b ~ Bin(b + c, 1/2) (as statsmodels)"),
    ("McNemar mid-p", "exact p minus the probability of the observed b (Fagerland et al. 2013)"),
    ("McNemar chi-square", "continuity-corrected chi-square, 1 df; b = c gives 0 and p = 1 (R)"),
    ("Newcombe interval", "paired square-and-add of Wilson intervals (Newcombe 1998, method 10)"),
    (
        "sign-flip permutation",
        "item-level test for repeated items: per-item mean difference, all 2^n sign flips "
        "enumerated (n <= 20 items with a difference), else 100,000 seeded Monte Carlo flips",
    ),
    ("clustered difference interval", "mean difference ± z × CR1 item-clustered SE, in [−1, 1]"),
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
    return [*cells, *adjusted, _test_label(row.get("method", ""))]


def _pair_table(pair: dict[str, Any], test: str, level: str) -> Table:
    a, b = pair["a"], pair["b"]
    columns = [
        "Domain",
        "n",
        f"acc {a}",
        f"acc {b}",
        f"difference (pp) [{level} CI]",
        f"only {a} right",
        f"only {b} right",
        "test statistic",
        "p",
        "p (Holm)",
        "p (BH)",
        "test",
    ]
    rows = [_cells(d["domain"], d, True) for d in pair["domains"]]
    rows.append(_cells("all domains", pair["overall"], False))
    notes = [
        f"difference = accuracy {a} − accuracy {b}; 'only {a} right' / 'only {b} right' are the "
        "discordant items (the only ones the test uses; listed below).",
        "Test statistic: min of the two discordant counts for the exact/mid-p tests; "
        "(|difference of counts| − 1)² / discordant for the chi-square test.",
        f"p: {test}. Holm (family-wise) and Benjamini–Hochberg (false discovery rate) "
        "adjustments run over the family of this pair's domains.",
        "Difference interval: Newcombe's paired square-and-add of Wilson intervals (one answer "
        "per item); mean difference ± z × item-clustered (CR1) standard error, clipped to "
        "[−1, 1] (items answered several times, where b and c count items, not answers).",
        f"Pairing: {pair.get('pairing', '')}.",
    ]
    cond = "" if pair.get("condition") is None else f", condition {pair['condition']}"
    return Table(
        columns=columns,
        rows=rows,
        caption=f"{a} vs {b}{cond} (paired on the same items)",
        notes=notes,
        id=f"ablation-{a}-vs-{b}{slug(cond)}",
        total_row=True,
    )


def _forest(pair: dict[str, Any], level: str) -> Figure:
    """Forest plot of the paired differences (pp) per domain and overall, with their intervals."""
    rows = [*pair["domains"], {**pair["overall"], "domain": "all domains"}]
    fig, ax = new_figure(width=5.5, height=max(1.8, 0.32 * len(rows) + 0.9))
    for i, r in enumerate(reversed(rows)):
        overall = i == 0
        ax.plot([100 * r["diff_ci_low"], 100 * r["diff_ci_high"]], [i, i], color="0.25")
        ax.plot([100 * r["diff"]], [i], "D" if overall else "o", color="C0" if overall else "C1")
    ax.axvline(0.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(rows)), [str(r["domain"]) for r in reversed(rows)])
    ax.set_xlabel(f"accuracy {pair['a']} − {pair['b']} (percentage points)")
    return Figure(
        svg=svg_of(fig),
        caption=f"{pair['a']} − {pair['b']}: paired difference per domain with its {level} "
        "Newcombe interval (diamond: all domains)",
        alt=f"Forest plot of the accuracy difference {pair['a']} minus {pair['b']} by domain",
        id=f"ablation-forest-{pair['a']}-{pair['b']}-{slug(pair.get('condition') or '')}",
    )


def _headline(pairs: list[dict[str, Any]], test: str) -> KeyValues:
    items = []
    for pair in pairs:
        row = pair["overall"]
        text = (
            f"{pct(row['acc_a'])} vs {pct(row['acc_b'])} (n = {row['n']}), "
            f"Δ {100 * row['diff']:+.1f} pp [{100 * row['diff_ci_low']:+.1f}, "
            f"{100 * row['diff_ci_high']:+.1f}] (Newcombe), discordant {row['b']}/{row['c']}, "
            f"p = {pvalue(row['pvalue'])}"
        )
        cond = "" if pair.get("condition") is None else f" ({pair['condition']})"
        items.append((f"{pair['a']} vs {pair['b']}{cond}", text))
    return KeyValues(items=items, caption=f"Paired arms ({test})")


def ablation_section(result: dict[str, Any]) -> Section:
    """A McNemar table (b and c always shown) for every pair of arms answering the same items."""
    if result.get("skipped"):
        reason = Paragraph(f"No paired comparison: {result['skipped']}.")
        return Section(id="ablation", title="Paired ablation (McNemar)", blocks=[reason])
    methods = result["methods"]
    test = _test_label(methods.get("test", ""))
    level = f"{float(methods.get('confidence', 0.95)) * 100:g}%"
    blocks: list[Any] = [
        Paragraph(
            "Each pair of arms is matched on every key both arms carry (domain, item_id, seed, "
            "checkpoint, condition); when the arms carry different checkpoint ids they are "
            "matched without it if that is unambiguous. Unmatched or ambiguous items are an "
            "error, never dropped. Conditions are compared separately. Items answered under "
            f"several seeds or checkpoints are tested at the item level. Test: {test}."
        )
    ]
    blocks.insert(0, _headline(result["details"]["pairs"], test))
    for pair in result["details"]["pairs"]:
        blocks += [_pair_table(pair, test, level), _forest(pair, level)]
    return Section(
        id="ablation", title="Paired ablation (McNemar)", blocks=blocks, definitions=DEFINITIONS
    )
