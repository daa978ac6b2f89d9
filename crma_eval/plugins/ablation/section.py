"""Report section of the ablation plugin: one McNemar table per pair of arms."""

from __future__ import annotations

from typing import Any

from crma_eval.blocks import KeyValues, Paragraph, Section, Table
from crma_eval.fmt import num, pct, pvalue

TEST_LABEL = {
    "mcnemar-exact": "McNemar exact binomial test",
    "mcnemar-midp": "McNemar mid-p test",
    "mcnemar-chi2": "McNemar chi-square test with continuity correction",
}


def _cells(label: str, row: dict[str, Any], holm: bool) -> list[Any]:
    cells = [
        label,
        row["n"],
        pct(row["acc_a"]),
        pct(row["acc_b"]),
        f"{100 * row['diff']:+.1f} pp [{100 * row['diff_ci_low']:+.1f}, "
        f"{100 * row['diff_ci_high']:+.1f}]",
        row["b"],
        row["c"],
        num(row["statistic"]),
        pvalue(row["pvalue"]),
    ]
    return [*cells, pvalue(row["pvalue_holm"]) if holm else "—"]


def _pair_table(pair: dict[str, Any], test: str, level: str) -> Table:
    a, b = pair["a"], pair["b"]
    columns = [
        "Domain",
        "n",
        f"acc {a}",
        f"acc {b}",
        f"diff (a − b) [{level} CI]",
        "b",
        "c",
        "statistic",
        "p",
        "p (Holm)",
    ]
    rows = [_cells(d["domain"], d, True) for d in pair["domains"]]
    rows.append(_cells("all domains", pair["overall"], False))
    notes = [
        f"b = items {a} got right and {b} got wrong; c = items {a} got wrong and {b} got right.",
        f"p: {test} on the discordant pairs (b, c); Holm adjustment across this pair's domains.",
        "Difference interval: Newcombe's paired square-and-add of Wilson intervals.",
    ]
    return Table(
        columns=columns, rows=rows, caption=f"{a} vs {b} (paired on the same items)", notes=notes
    )


def _headline(pairs: list[dict[str, Any]], test: str) -> KeyValues:
    items = []
    for pair in pairs:
        row = pair["overall"]
        text = (
            f"{pct(row['acc_a'])} vs {pct(row['acc_b'])}, b = {row['b']}, c = {row['c']}, "
            f"p = {pvalue(row['pvalue'])}"
        )
        items.append((f"{pair['a']} vs {pair['b']}", text))
    return KeyValues(items=items, caption=f"Paired arms ({test})")


def ablation_section(result: dict[str, Any]) -> Section:
    """A McNemar table (b and c always shown) for every pair of arms answering the same items."""
    methods = result["methods"]
    test = TEST_LABEL.get(methods.get("test", ""), methods.get("test", ""))
    level = f"{float(methods.get('confidence', 0.95)) * 100:g}%"
    blocks: list[Any] = [
        Paragraph(
            "Each pair of arms is matched on the same items (domain and item_id, plus seed and "
            f"checkpoint where given); unmatched items are an error. Test: {test}."
        )
    ]
    blocks.insert(0, _headline(result["details"]["pairs"], test))
    blocks += [_pair_table(pair, test, level) for pair in result["details"]["pairs"]]
    return Section(id="ablation", title="Paired ablation (McNemar)", blocks=blocks)
