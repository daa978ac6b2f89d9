"""`crma-eval compare RUN_A RUN_B`: every shared metric with its delta, paired tests on shared
items, the flipped items, as DIR/compare.html (+ tables/, items/) and DIR/compare.md for CI.

Paired tests use exactly the pairing of `gate --baseline` (`paired_evidence`, RUN_A as the
baseline): McNemar exact, two-sided, on the items both runs answered (0/1 values); graded
values (bench mc2, BLEU, ...) get the paired t on per-document differences (exact sign-flip when
those are essentially constant). Deltas are RUN_B − RUN_A, in their metric's scale (the
catalogue's `scale`), so the largest deltas are ranked within each scale, never across; where the
metric catalogue knows the metric's direction (higher or lower is better), a column says whether
B is better or worse than A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from crma_eval.api.blocks import Items, KeyValues, Paragraph, Section, Table
from crma_eval.api.catalogue import MetricInfo, catalogue, describe_label
from crma_eval.api.plugin import PairSpec
from crma_eval.api.registry import plugins
from crma_eval.discordant import bc_cell
from crma_eval.errors import InputError
from crma_eval.evidence import GRADED_CONSTANT, GRADED_TEST, RunRecords, paired_evidence
from crma_eval.fmt import DASH, missing, pvalue
from crma_eval.results import load_results
from crma_eval.stats.equivalence import paired_mde
from crma_eval.store import write_text_atomic

GRADED = (GRADED_TEST, GRADED_CONSTANT)  # tests of graded values: no flipped items
ALPHA = 0.05  # only for the "changed at p < 0.05" count; no multiplicity correction
MD_ROWS = 20  # rows of each table in compare.md


@dataclass
class Paired:
    """One metric's paired test: n pairs, b (higher in A only), c (higher in B only), p
    (crma_eval.discordant says what they count)."""

    metric: str
    a: float
    b_value: float
    n: int = 0
    only_a: int = 0
    only_b: int = 0
    p: float = math.nan
    note: str = ""
    method: str = ""
    mde: float = math.nan  # smallest true difference the test detects (80% power, ALPHA)


@dataclass
class Comparison:
    """What `compare` found; `flipped` maps a metric to its flipped items (a DataFrame)."""

    names: tuple[str, str]
    shared: list[tuple[str, float, float]]
    only: dict[str, list[str]]
    paired: list[Paired] = field(default_factory=list)
    flipped: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, MetricInfo] = field(default_factory=dict)
    unpaired: str = ""  # why no test could pair items (e.g. a run without records/), else ""

    def is_estimate(self, metric: str) -> bool:
        """True when the metric catalogue says `metric` is a point estimate in both runs."""
        info = self.info.get(metric)
        return info is not None and info.is_estimate

    def direction(self, metric: str) -> str | None:
        """The catalogue's declared direction of `metric` ("higher"/"lower"), else None."""
        info = self.info.get(metric)
        return None if info is None else info.known_direction

    def verdict(self, metric: str, a: Any, b: Any) -> str:
        """'B better' / 'B worse' / 'same' by the metric's direction; '—' when it is unknown
        (not declared, or declared differently by the two runs) or a value is missing."""
        info = self.info.get(metric)
        direction = None if info is None else info.known_direction
        delta = _delta(a, b)
        if direction is None or math.isnan(delta):
            return DASH
        if delta == 0:
            return "same"
        better = delta > 0 if direction == "higher" else delta < 0
        return f"B {'better' if better else 'worse'} ({direction} is better)"


def _delta(a: Any, b: Any) -> float:
    return math.nan if missing(a) or missing(b) else float(b) - float(a)


def _spec(metric: str) -> PairSpec | None:
    plugin = plugins().get(metric.split(".", 1)[0])
    return plugin.pairing(metric) if plugin is not None else None


def _paired(metric: str, a: float, b: float, runs: tuple[RunRecords, RunRecords]) -> Paired:
    """The metric's paired test via paired_evidence; items that do not match are a note."""
    row = Paired(metric, a, b)
    try:
        evidence = paired_evidence(metric, *runs, graded=True)
    except InputError as exc:
        row.note = f"not paired: {exc.problem}"
        return row
    row.note = evidence.note
    if evidence.test is not None:
        row.n, row.p = evidence.n_pairs, evidence.test.pvalue
        row.only_a, row.only_b = int(evidence.test.b), int(evidence.test.c)
        row.method = evidence.test.method
    if evidence.x is not None and evidence.y is not None:
        row.mde = paired_mde(evidence.x, evidence.y, evidence.items, ALPHA).value
    return row


def flipped_items(spec: PairSpec, runs: tuple[RunRecords, RunRecords]) -> pd.DataFrame:
    """The items of one metric whose 0/1 outcome differs between the runs: the b + c items of
    its McNemar test (matched on spec.keys present in the records), with any text fields."""
    sides = [spec.select(run.frames.get(spec.kind, pd.DataFrame())) for run in runs]
    if any(f.empty for f in sides):
        return pd.DataFrame()
    sides = list(spec.sides(*sides))
    keys = [k for k in spec.keys if any(k in f and f[k].notna().any() for f in sides)]
    text = [c for c in ("question", "reference", "prediction") if c in sides[0]]
    left = sides[0][[*keys, spec.value, *text]]
    right = sides[1][[*keys, spec.value, *(c for c in ("prediction",) if c in sides[1])]]
    both = left.merge(right, on=keys, suffixes=(" A", " B"))
    flip = both[both[f"{spec.value} A"].astype(bool) != both[f"{spec.value} B"].astype(bool)]
    return flip.reset_index(drop=True)


def _general(specs: dict[str, PairSpec]) -> list[str]:
    """Per record kind, the pairable metrics with the broadest selection (the fewest name
    segments: qa.<arm>.accuracy, not its per-domain parts), whose flipped items include every
    narrower metric's."""
    fewest: dict[str, int] = {}
    for metric, spec in specs.items():
        fewest[spec.kind] = min(fewest.get(spec.kind, 99), metric.count("."))
    return [m for m, s in specs.items() if m.count(".") == fewest[s.kind]]


def _shared_info(loaded: list[dict[str, Any]], shared: list[str]) -> dict[str, MetricInfo]:
    """Run B's catalogue entry of each shared metric, its role demoted to `unknown` when run A's
    catalogue gives it another role (only metrics both runs call estimates are tested)."""
    infos = [catalogue(r) for r in loaded]
    out = {}
    for metric in shared:
        a, b = infos[0][metric], infos[1][metric]
        if a.role != b.role:
            out[metric] = MetricInfo("unknown", b.estimand, fallback=True)
        else:  # a direction only the two runs agree on
            out[metric] = b if a.direction == b.direction else replace(b, direction=None)
    return out


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Compare two run directories (results.json and, for paired tests, their records).

    Raises InputError (exit 2) when a run directory has no readable results.json.
    """
    loaded = [load_results(r) for r in (run_a, run_b)]
    results = [r["metrics"] for r in loaded]
    names = _labels(run_a, run_b)
    shared_names = [m for m in results[0] if m in results[1]]
    shared = [(m, results[0][m], results[1][m]) for m in shared_names]
    only = {
        names[0]: sorted(set(results[0]) - set(results[1])),
        names[1]: sorted(set(results[1]) - set(results[0])),
    }
    out = Comparison(names, shared, only, info=_shared_info(loaded, shared_names))
    runs = (RunRecords(run_a), RunRecords(run_b))
    bare = [n for n, r in zip(names, runs, strict=True) if not r.run.record_files()]
    out.unpaired = "; ".join(f"no per-item records in {n}" for n in bare)
    estimates = [m for m in shared_names if out.is_estimate(m)]
    specs = {m: s for m in estimates if (s := _spec(m)) is not None}
    out.paired = [_paired(m, results[0][m], results[1][m], runs) for m in specs]
    tested = {p.metric for p in out.paired if p.n and p.method not in GRADED}
    for metric in _general({m: s for m, s in specs.items() if m in tested}):
        out.flipped[metric] = flipped_items(specs[metric], runs)
    return out


def _labels(run_a: str | Path, run_b: str | Path) -> tuple[str, str]:
    """The runs' folder names, or 'A (name)' / 'B (name)' when the two names are equal."""
    a, b = (Path(r).resolve().name for r in (run_a, run_b))
    return (a, b) if a != b else (f"A ({a})", f"B ({b})")


def _methods(tested: list[Paired]) -> str:
    """The tests the paired rows used, e.g. 'McNemar exact, two-sided'."""
    return "; ".join(sorted({p.method for p in tested if p.method})) or "none"


def _num(value: Any) -> str:
    return DASH if missing(value) else f"{float(value):.4g}"


def _signed(value: Any) -> str:
    return DASH if missing(value) else f"{float(value):+.4g}"


def _mde(p: Paired) -> str:
    if not p.n or math.isnan(p.mde):
        return DASH
    return "none" if math.isinf(p.mde) else _num(p.mde)


def _paired_rows(comp: Comparison) -> list[list[Any]]:
    return [
        [
            p.metric,
            _num(p.a),
            _num(p.b_value),
            _signed(_delta(p.a, p.b_value)),
            comp.verdict(p.metric, p.a, p.b_value),
            p.n or DASH,
            p.only_a if p.n else DASH,
            p.only_b if p.n else DASH,
            pvalue(p.p) if p.n else DASH,
            _mde(p),
            p.method or DASH,
            p.note,
        ]
        for p in comp.paired
    ]


def comparison_sections(comp: Comparison) -> list[Section]:
    """The comparison as report sections (rendered by crma_eval.report.render)."""
    a, b = comp.names
    tested = [p for p in comp.paired if p.n]
    summary = KeyValues(
        [
            ("runs", f"A = {a}, B = {b} (delta = B − A)"),
            ("shared metrics", len(comp.shared)),
            (f"only in {a}", len(comp.only[a])),
            (f"only in {b}", len(comp.only[b])),
            ("paired tests", f"{len(tested)} on shared items ({_methods(tested)})"),
            (f"p < {ALPHA:g}", f"{sum(p.p < ALPHA for p in tested)} (no multiplicity correction)"),
            ("flipped items", sum(len(f) for f in comp.flipped.values())),
        ],
        "Comparison",
    )
    paired = Table(
        [
            "metric",
            a,
            b,
            "delta (B − A)",
            "B vs A",
            "n pairs",
            f"b: higher in {a}",
            f"c: higher in {b}",
            "p",
            "MDE",
            "test",
            "note",
        ],
        _paired_rows(comp),
        "Paired tests on shared items (the pairing of gate --baseline; A as the baseline)",
        [
            "b, c: what scores higher in one run only, read as better or worse by the metric's "
            "direction (worse for a lower-is-better metric, higher where the direction is "
            "unknown). "
            "p: the row's test, two-sided — McNemar exact on the discordant items when each item "
            "was answered once (b, c: answers 1 in one run only); the item-level sign-flip "
            "permutation test on per-item differences (totals) when items repeat (seeds, "
            "checkpoints; b, c: items with a higher total in one run); for graded values "
            "(not 0/1) the paired t on per-document differences, or the exact sign-flip test "
            "when those are essentially constant (b, c: documents scoring higher in one run). "
            "n pairs: items (documents) in both runs. MDE: the smallest true difference the "
            f"test detects with 80% power at alpha {ALPHA:g} (McNemar normal approximation from "
            "the observed discordance; t on per-item differences for repeated items; none shown "
            "for graded values; docs/power.md)."
        ],
        id="compare-paired",
    )
    every = Table(
        ["metric", "what it is (role; method; n of units)", "scale", a, b, "delta (B − A)",
         "B vs A"],
        [
            [m, describe_label(comp.info[m]), _scale(comp, m), _num(x), _num(y),
             _signed(_delta(x, y)), comp.verdict(m, x, y)]
            for m, x, y in comp.shared
        ],
        "Every shared metric",
        ["Paired tests and the largest deltas cover estimates only (the metric catalogue's role); "
         "interval bounds, counts, test statistics and p-values are listed here, never tested. "
         "B vs A: better or worse by the metric's direction (higher or lower is better), where "
         "the catalogue knows it (— otherwise)."],
        id="compare-metrics",
    )  # fmt: skip
    blocks: list[Any] = [summary, paired] if comp.paired else [summary]
    blocks.append(every)
    one_side = [[run, m] for run, names in comp.only.items() for m in names]
    if one_side:
        blocks.append(
            Table(["run", "metric"], one_side, "Metrics in one run only", id="compare-only")
        )
    for metric, frame in comp.flipped.items():
        if frame.empty:
            continue
        blocks.append(
            Items(
                f"Flipped items of {metric}",
                [str(c) for c in frame.columns],
                frame.astype(object).where(frame.notna(), None).to_numpy(object).tolist(),
                note=f"Items right in one run and wrong in the other ({a} = A, {b} = B).",
                id=f"flipped-{metric}",
            )
        )
    if not comp.paired:
        why = f" ({comp.unpaired})" if comp.unpaired else ""
        blocks.append(
            Paragraph(f"No shared metric pairs per item{why}: deltas only, no paired test.")
        )
    return [Section("compare", f"{a} → {b}", blocks)]


def markdown(comp: Comparison) -> str:
    """A short Markdown summary for CI job pages: counts, the paired tests, the largest deltas."""
    a, b = comp.names
    tested = sorted((p for p in comp.paired if p.n), key=lambda p: p.p)
    lines = [
        f"## crma-eval compare: {a} → {b}",
        "",
        f"{len(comp.shared)} shared metrics ({len(comp.only[a])} only in {a}, "
        f"{len(comp.only[b])} only in {b}); {len(tested)} paired tests "
        f"({comp.unpaired if not tested and comp.unpaired else _methods(tested)}, "
        f"on shared items); {sum(len(f) for f in comp.flipped.values())} flipped items.",
        "",
    ]
    if tested:
        lines += [f"| metric | {a} | {b} | delta | n | b: higher in {a} | c: higher in {b} | p |"]
        lines += ["|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [
            f"| `{p.metric}` | {_num(p.a)} | {_num(p.b_value)} | {_signed(_delta(p.a, p.b_value))}"
            f" | {p.n} | {bc_cell(p.only_a, p.method, comp.direction(p.metric))}"
            f" | {bc_cell(p.only_b, p.method, comp.direction(p.metric))} | {pvalue(p.p)} |"
            for p in tested[:MD_ROWS]
        ]
        lines.append("")
    lines += _largest(comp)
    lines += ["", "Full comparison: compare.html (tables/ and items/ beside it)."]
    return "\n".join(lines) + "\n"


def _scale(comp: Comparison, metric: str) -> str:
    """The metric's scale from the catalogue ('not stated' when it gives none)."""
    info = comp.info.get(metric)
    return (info.scale if info is not None else None) or "not stated"


def _largest(comp: Comparison) -> list[str]:
    """The largest deltas of estimates, ranked by |delta| within each scale (a delta of 0.05 in
    a fraction and of 3 in percentage points are not comparable): up to MD_ROWS rows in all,
    shared round-robin among the scales, grouped by scale; zero deltas are left out (counted)."""
    by_scale: dict[str, list[tuple[str, float, str]]] = {}
    estimates = 0
    for metric, x, y in comp.shared:
        delta = _delta(x, y)
        if comp.is_estimate(metric) and not missing(delta):
            estimates += 1
            if delta != 0:  # unchanged estimates are counted, never listed as "largest"
                row = (metric, delta, comp.verdict(metric, x, y))
                by_scale.setdefault(_scale(comp, metric), []).append(row)
    total = sum(len(rows) for rows in by_scale.values())
    ranked = {k: sorted(v, key=lambda r: -abs(r[1])) for k, v in sorted(by_scale.items())}
    shown: dict[str, int] = dict.fromkeys(ranked, 0)
    while sum(shown.values()) < min(MD_ROWS, total):
        for scale, rows in ranked.items():
            if shown[scale] < len(rows) and sum(shown.values()) < MD_ROWS:
                shown[scale] += 1
    lines = [
        f"Largest deltas (B − A) of {total} changed estimates ({estimates - total} of "
        f"{estimates} unchanged left out; not bounds, counts or p-values), ranked "
        "by |delta| within each scale (deltas on different scales are not comparable):",
        "",
        "| scale | metric | delta | B vs A |",
        "|---|---|---:|---|",
    ]
    for scale, rows in ranked.items():
        lines += [f"| {scale} | `{m}` | {_signed(d)} | {v} |" for m, d, v in rows[: shown[scale]]]
    return lines


def write_comparison(run_a: str | Path, run_b: str | Path, out: str | Path) -> Path:
    """Write OUT/compare.html (tables/, items/ beside it) and OUT/compare.md; returns the HTML."""
    from crma_eval.report.exports import fresh_exports
    from crma_eval.report.render import render_html

    comp = compare_runs(run_a, run_b)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    empty: dict[str, Any] = {"meta": {}, "metrics": {}, "plugins": {}}
    with fresh_exports(out) as staging:
        title = f"{comp.names[0]} → {comp.names[1]}"
        html = render_html(title, empty, {}, out, comparison_sections(comp), staging)
        write_text_atomic(out / "compare.md", markdown(comp))
        return write_text_atomic(out / "compare.html", html)
