"""Report section of the bench plugin: the paper's before/after/delta table, scores per arm with
their intervals, and forest plots of the paired differences (pp, and perplexity ratios)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crma_eval import (
    DASH,
    display,
    forest_svg,
    interval,
    missing,
    num,
    pct,
    pvalue,
    signed,
    slug,
)
from crma_eval.api import Figure, KeyValues, Paragraph, Section, Table, method_label
from crma_eval.plugins.bench.cells import NO_FILTER
from crma_eval.plugins.bench.continuous import UNBOUNDED
from crma_eval.plugins.bench.unscored import unscored_table

DEFINITIONS = [
    (
        "Δ",
        "score(after) − score(base) on paired documents: percentage points (pp) for proportions, "
        "points for 0–100 scores (BLEU, chrF, ROUGE), bits for bits per byte, else the metric's "
        "own units; the scale comes from the metric's definition, never from the data",
    ),
    ("p (Holm)", "Holm-adjusted across the tasks (and filters) compared for the same arm"),
    ("p (BH)", "Benjamini–Hochberg (FDR) adjusted over the same family as Holm"),
    (
        "paired t-test",
        "one-sample t-test on per-document differences; its t-interval is the Δ interval "
        "(graded metrics), clipped to the metric's range",
    ),
    (
        "sign-flip test",
        "exact permutation test flipping the sign of each document's difference; used when "
        "every difference is equal (t undefined)",
    ),
    (
        "ratio",
        "corpus perplexity after / base = exp(Σ(ll_base − ll_after) / Σweight), the ratio of "
        "the two arms' reported perplexities (weights: lm-eval's words or bytes of each "
        "document, the same under both arms; 1 for plain perplexity); interval: t-interval "
        "(n − 1 df) of that ratio estimator on the log scale; 1 means no change",
    ),
    ("McNemar", "test on the discordant documents (right after only, right before only)"),
]


def task_label(row: Mapping[str, Any]) -> str:
    """'task' or 'task (filter)' when the task was scored under a named filter."""
    return row["task"] if row["filter"] == NO_FILTER else f"{row['task']} ({row['filter']})"


def delta_id(prefix: str, row: Mapping[str, Any]) -> str:
    """A stable anchor for one compared (task, filter, arm) against the base arm."""
    return slug(f"{prefix}-{row['task']}-{row['filter']}-{row['arm']}-vs-{row['base']}")


def _proportion(row: Mapping[str, Any]) -> bool:
    """A score shown as a percentage: a fraction in [0, 1] (results before scales: bounded)."""
    return row["metric"] not in UNBOUNDED and row.get("scale", "fraction") == "fraction"


def _score(row: Mapping[str, Any] | None) -> str:
    """A score: a percentage for fractions, a plain number (in its own units) otherwise."""
    if row is None:
        return DASH
    return pct(row["score"]) if _proportion(row) else num(row["score"])


def _score_ci(row: Mapping[str, Any]) -> str:
    if _proportion(row):
        return interval(row["ci_low"], row["ci_high"])
    low, high = row["ci_low"], row["ci_high"]
    return DASH if missing(low) else f"[{num(low)}, {num(high)}]"


def delta_cells(row: Mapping[str, Any]) -> list[str]:
    """The difference and its interval in the metric's own terms (pp, ratio, bits, points)."""
    if "ratio" in row:
        low, high = row["ratio_ci_low"], row["ratio_ci_high"]
        return [f"× {row['ratio']:.4f}", DASH if missing(low) else f"[{low:.4f}, {high:.4f}]"]
    if "delta" in row:
        unit = f" {row.get('unit', 'bits')}"
        low, high = row["delta_ci_low"], row["delta_ci_high"]
        ci = DASH if missing(low) else f"[{low:+.4f}, {high:+.4f}]{unit}"
        return [signed(row["delta"], 4, unit), ci]
    low, high = row["delta_ci_low_pp"], row["delta_ci_high_pp"]
    ci = DASH if missing(low) else f"[{low:+.2f}, {high:+.2f}] pp"
    return [signed(row["delta_pp"], 2, " pp"), ci]


def _method(row: Mapping[str, Any]) -> str:
    """The interval's and test's method (results written before it was stored: by the keys)."""
    if "method" in row:
        return str(row["method"])
    return "Newcombe interval; McNemar" if "b" in row else "paired t-test"


def _score_of(scores: list[dict[str, Any]], row: Mapping[str, Any], arm: str) -> Any:
    key = (row["task"], row["metric"], row["filter"], arm)
    return next((s for s in scores if (s["task"], s["metric"], s["filter"], s["arm"]) == key), None)


def before_after(details: Mapping[str, Any], level: str, opts: Mapping[str, Any]) -> Table:
    """The paper's benchmark table: per task and compared arm, base and after score, the paired
    difference with its interval and method, n pairs, p and its Holm and BH adjustments."""
    scores, base = details["scores"], details["base_arm"]
    arms = list(dict.fromkeys(display(opts, d["arm"]) for d in details["deltas"]))
    several = len(arms) > 1  # one column names the compared arm only when there are several
    rows = []
    for d in details["deltas"]:
        rows.append(
            [
                task_label(d),
                d["metric"],
                *([display(opts, d["arm"])] if several else []),
                d["n"],
                _score(_score_of(scores, d, base)),
                _score(_score_of(scores, d, d["arm"])),
                *delta_cells(d),
                _method(d),
                pvalue(d["pvalue"]),
                pvalue(d.get("pvalue_holm")),
                pvalue(d.get("pvalue_bh")),
            ]
        )
    return Table(
        columns=[
            "Task (filter)",
            "Metric",
            *(["Arm"] if several else []),
            "n pairs",
            f"Before ({display(opts, base)})",
            "After" if several else f"After ({arms[0]})",
            "Δ (after − before)",
            f"Δ {level} CI",
            "Interval; test",
            "p",
            "p (Holm)",
            "p (BH)",
        ],
        rows=rows,
        caption="Benchmarks before and after: paired difference per task",
        notes=[
            "Δ in percentage points for proportions, in points for 0–100 scores; perplexity-type "
            "metrics as the ratio after / before (× 1 = no change); bits per byte in bits.",
            "Documents are paired on lm-eval's content hash when every record has one, else on "
            "doc_id; n pairs counts the paired documents.",
            "Holm and Benjamini–Hochberg adjust over the tasks (and filters) compared for the "
            "same arm. The discordant documents of 0/1 metrics are listed below.",
        ],
        id="before-after",
    )


def headline(details: Mapping[str, Any], opts: Mapping[str, Any]) -> KeyValues:
    """One line per compared task: before → after, Δ with its interval, n pairs, p (Holm)."""
    scores, base = details["scores"], details["base_arm"]
    items = []
    for d in details["deltas"]:
        change, ci = delta_cells(d)
        text = (
            f"{_score(_score_of(scores, d, base))} → {_score(_score_of(scores, d, d['arm']))}, "
            f"Δ {change} {ci} (n = {d['n']} pairs), p (Holm) = {pvalue(d.get('pvalue_holm'))}"
        )
        items.append((f"{task_label(d)}, {display(opts, d['arm'])}", text))
    caption = f"Before ({display(opts, base)}) → after, paired on the same documents"
    return KeyValues(items=items, caption=caption)


def _scores(rows: list[dict[str, Any]], ci: str, opts: Mapping[str, Any]) -> Table:
    body = [
        [task_label(r), r["metric"], display(opts, r["arm"]), r["n"], _score(r), _score_ci(r),
         method_label(r["interval"]) if "interval" in r else DASH]
        for r in rows
    ]  # fmt: skip
    return Table(
        columns=["Task (filter)", "Metric", "Arm", "n (documents)", "Score", ci, "interval method"],
        rows=body,
        caption="Benchmark scores per arm",
        notes=[
            "0/1 metrics: proportion interval; graded metrics (e.g. TruthfulQA mc2): t-interval; "
            "perplexity: t-interval on the log scale."
        ],
        id="scores",
    )


def _discordant_note(row: Mapping[str, Any]) -> str:
    return f", {row['b']} up / {row['c']} down" if "b" in row else ""


def _forest(
    rows: Sequence[Mapping[str, Any]],
    keys: tuple[str, str, str],
    ratio: bool,
    opts: Mapping[str, Any],
) -> str:
    """A forest plot (SVG) of the rows' estimates with their intervals, first row on top."""
    est, low, high = ([r[k] for r in rows] for k in keys)
    labels = [f"{task_label(r)}, {display(opts, r['arm'])}{_discordant_note(r)}" for r in rows]
    xlabel = "perplexity ratio after / before" if ratio else "Δ (percentage points)"
    return forest_svg(est, low, high, labels, xlabel, reference=1.0 if ratio else 0.0, log=ratio,
                      row_height=0.32, min_height=1.6)  # fmt: skip


def forests(deltas: list[dict[str, Any]], level: str, opts: Mapping[str, Any]) -> list[Figure]:
    """Forest plots of the paired differences: pp (bounded scores), ratios (perplexity)."""
    figures = []
    pp = [d for d in deltas if "delta_pp" in d]
    if pp:
        figures.append(
            Figure(
                svg=_forest(pp, ("delta_pp", "delta_ci_low_pp", "delta_ci_high_pp"), False, opts),
                caption=f"Before/after difference per task with its paired {level} interval "
                "(dashed: no change)",
                alt="Forest plot of the benchmark score difference after minus before by task",
                id="forest",
            )
        )
    ratios = [d for d in deltas if "ratio" in d]
    if ratios:
        figures.append(
            Figure(
                svg=_forest(ratios, ("ratio", "ratio_ci_low", "ratio_ci_high"), True, opts),
                caption=f"Perplexity ratio after / before per task with its {level} interval "
                "(log scale; dashed: no change)",
                alt="Forest plot of the perplexity ratio after over before by task",
                id="forest-ratio",
            )
        )
    return figures


def bench_section(result: dict[str, Any]) -> Section:
    """The before/after/delta table, forest plots of the deltas and the scores per arm."""
    details, methods = result["details"], result["methods"]
    opts = result.get("report", {})
    level = f"{float(methods.get('confidence', 0.95)) * 100:g}%"
    blocks: list[Any] = [
        Paragraph(
            f"Scores from lm-evaluation-harness per-document outputs; every arm is compared with "
            f"the base arm '{display(opts, details['base_arm'])}' on the same documents. Paired "
            f"CI: {methods['paired_ci']}. Test: {methods['test']}. "
            f"Multiplicity: {methods['multiplicity']}."
        )
    ]
    if details["deltas"]:
        blocks.insert(0, headline(details, opts))
        blocks += [before_after(details, level, opts), *forests(details["deltas"], level, opts)]
    blocks.append(_scores(details["scores"], f"{level} CI", opts))
    unscored = unscored_table(details.get("unscored") or [], opts)  # older results: none
    if unscored is not None:
        blocks.append(unscored)
    return Section(id="bench", title="Standard benchmarks", blocks=blocks, definitions=DEFINITIONS)
