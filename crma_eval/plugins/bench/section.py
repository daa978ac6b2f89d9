"""Report section of the bench plugin: scores per task and arm, deltas with CIs, forest plot."""

from __future__ import annotations

from typing import Any

from crma_eval.blocks import Figure, Paragraph, Section, Table
from crma_eval.figures import new_figure, svg_of
from crma_eval.fmt import DASH, ci_caption, interval, missing, num, pct, pvalue, signed
from crma_eval.plugins.bench.analysis import NO_FILTER
from crma_eval.plugins.bench.continuous import UNBOUNDED


def _label(row: dict[str, Any]) -> str:
    return row["task"] if row["filter"] == NO_FILTER else f"{row['task']} ({row['filter']})"


def _scores(rows: list[dict[str, Any]], ci: str) -> Table:
    body = [
        [
            _label(r),
            r["metric"],
            r["arm"],
            r["n"],
            *_score_cells(r),
        ]
        for r in rows
    ]
    return Table(
        columns=["Task (filter)", "Metric", "Arm", "n", "Score", ci],
        rows=body,
        caption="Benchmark scores per arm",
        notes=[
            "0/1 metrics: proportion interval; graded metrics (e.g. TruthfulQA mc2): t-interval."
        ],
    )


def _score_cells(row: dict[str, Any]) -> list[str]:
    """Score and interval: percentages for bounded metrics, plain numbers for unbounded ones."""
    if row["metric"] in UNBOUNDED:
        low, high = row["ci_low"], row["ci_high"]
        return [num(row["score"]), DASH if missing(low) else f"[{num(low)}, {num(high)}]"]
    return [pct(row["score"]), interval(row["ci_low"], row["ci_high"])]


def _delta_cells(row: dict[str, Any]) -> list[str]:
    """The difference and its interval in the metric's own terms (pp, ratio or bits)."""
    if "ratio" in row:
        low, high = row["ratio_ci_low"], row["ratio_ci_high"]
        return [f"× {row['ratio']:.4f}", DASH if missing(low) else f"[{low:.4f}, {high:.4f}]"]
    if "delta" in row:
        low, high = row["delta_ci_low"], row["delta_ci_high"]
        ci = DASH if missing(low) else f"[{low:+.4f}, {high:+.4f}] bits"
        return [signed(row["delta"], 4, " bits"), ci]
    return [
        signed(row["delta_pp"], 2, " pp"),
        _pp_interval(row["delta_ci_low_pp"], row["delta_ci_high_pp"]),
    ]


def _pp_interval(low: Any, high: Any) -> str:
    return DASH if missing(low) else f"[{low:+.2f}, {high:+.2f}] pp"


def _deltas(rows: list[dict[str, Any]], confidence: str) -> Table:
    body = [
        [
            _label(r),
            f"{r['arm']} − {r['base']}",
            r["n"],
            *_delta_cells(r),
            r.get("b", DASH),
            r.get("c", DASH),
            pvalue(r["pvalue"]),
            pvalue(r.get("pvalue_holm")),
            pvalue(r.get("pvalue_bh")),
        ]
        for r in rows
    ]
    return Table(
        columns=[
            "Task (filter)",
            "Comparison",
            "Pairs",
            "Δ",
            f"{confidence} CI",
            "b",
            "c",
            "p",
            "p (Holm)",
            "p (BH)",
        ],
        rows=body,
        caption="Paired before/after differences (documents matched on content hash)",
        notes=[
            "b: documents right after and wrong before; c: wrong after and right before "
            "(McNemar uses only these discordant pairs).",
            "Perplexity-type metrics: ratio after/base of corpus perplexities with its interval; "
            "bits per byte: difference in bits. Never in percentage points.",
            "Holm and Benjamini–Hochberg adjust over the family of tasks (and filters) compared "
            "for the same arm.",
        ],
    )


def _forest(rows: list[dict[str, Any]]) -> Figure:
    rows = [r for r in rows if "delta_pp" in r]  # ratios and bits have their own scales
    fig, ax = new_figure(width=6.0, height=max(1.6, 0.35 * len(rows) + 0.8))
    for i, r in enumerate(reversed(rows)):
        low, high = r["delta_ci_low_pp"], r["delta_ci_high_pp"]
        if not missing(low):
            ax.plot([low, high], [i, i], color="0.3", linewidth=1.2)
        ax.plot([r["delta_pp"]], [i], "o", color="C0", markersize=4)
    ax.axvline(0.0, color="0.6", linewidth=0.8, linestyle="--")
    labels = [f"{_label(r)}: {r['arm']} − {r['base']}" for r in reversed(rows)]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlabel("difference (percentage points)")
    return Figure(svg=svg_of(fig), caption="Before/after difference per task with its paired CI")


def bench_section(result: dict[str, Any]) -> Section:
    """Scores, deltas and a forest plot of the deltas."""
    details, methods = result["details"], result["methods"]
    level = f"{float(methods.get('confidence', 0.95)) * 100:g}%"
    blocks: list[Any] = [
        Paragraph(
            f"Scores from lm-evaluation-harness per-document outputs; every arm is compared with "
            f"the base arm '{details['base_arm']}' on the same documents. Paired CI: "
            f"{methods['paired_ci']}. Test: {methods['test']}. "
            f"Multiplicity: {methods['multiplicity']}."
        ),
        _scores(details["scores"], ci_caption(methods)),
    ]
    if details["deltas"]:
        blocks += [_deltas(details["deltas"], level), _forest(details["deltas"])]
    return Section(
        id="bench",
        title="Standard benchmarks",
        blocks=blocks,
        definitions=[
            ("Δ (pp)", "score(arm) − score(base) in percentage points, on paired documents"),
            ("p (Holm)", "Holm-adjusted across the tasks compared for the same arm"),
            ("p (BH)", "Benjamini–Hochberg (FDR) adjusted over the same family as Holm"),
            (
                "paired t-test",
                "one-sample t-test on per-document differences; its t-interval is "
                "the Δ interval (graded metrics), clipped to the metric's range",
            ),
            (
                "sign-flip test",
                "exact permutation test flipping the sign of each document's "
                "difference; used when every difference is equal (t undefined)",
            ),
            (
                "ratio",
                "corpus perplexity after / base = exp(mean per-document log-perplexity "
                "difference), interval from the paired t-interval on the log scale",
            ),
            ("McNemar", "test on the discordant pairs b, c of 0/1 metrics"),
        ],
    )
