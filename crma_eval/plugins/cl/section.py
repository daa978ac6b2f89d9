"""Report section of the cl plugin: matrix heatmaps with intervals, metric tables, attribution."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import Normalize

from crma_eval import DASH, display, missing, new_panels, svg_of
from crma_eval.api import Block, Figure, Paragraph, Section, Table

COLUMNS = (
    ("acc", "ACC"),
    ("final_loss", "ACC (final loss)"),
    ("bwt", "BWT"),
    ("fwt", "FWT"),
    ("forgetting", "Forgetting"),
    ("intransigence", "Intransigence"),
    ("a", "A"),
    ("a_loss", "A (loss)"),
    ("bwt_diaz", "BWT (Díaz)"),
    ("rem", "REM"),
    ("forgetting_avalanche", "Forgetting (Avalanche)"),
)


def _label(series: dict[str, Any], opts: dict[str, Any]) -> str:
    name = display(opts, series["condition"])
    if series["source"] == "loss":
        return f"{name} (loss)"
    return name if series["prefix"].count(".") == 1 else f"{name} / {display(opts, series['arm'])}"


def _array(rows: Any) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def _value(series: dict[str, Any], value: float) -> str:
    return f"{value:.2f}" if series["source"] == "qa" else f"{value:.3f}"


def _cell_text(series: dict[str, Any], r: int, c: int, value: float) -> str:
    text = _value(series, value)
    low, high = series.get("ci_low"), series.get("ci_high")
    if low is not None and high is not None and low[r][c] is not None:
        text += f"\n[{_value(series, low[r][c])}, {_value(series, high[r][c])}]"
    return text


def _row_labels(domains: list[str]) -> list[str]:
    return ["base", *(f"{p} ({d})" for p, d in enumerate(domains, start=1))]


def _heatmap(group: list[dict[str, Any]], opts: dict[str, Any], unit: str) -> Figure:
    """One panel per series, side by side, on one colour scale (accuracy: 0 … 1)."""
    matrices = [_array(s["matrix"]) for s in group]
    if unit == "accuracy":
        norm = Normalize(0.0, 1.0)
    else:
        finite = np.concatenate([m[np.isfinite(m)] for m in matrices] + [np.zeros(0)])
        norm = Normalize(*(float(finite.min()), float(finite.max())) if finite.size else (0, 1))
    size = max(len(s["domains"]) for s in group)
    panel = 1.2 + 0.62 * size
    fig, axes = new_panels(len(group), 1.4 + panel * len(group), 1.4 + 0.55 * (size + 1))
    image = None
    for ax, series, matrix in zip(axes, group, matrices, strict=True):
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="viridis", norm=norm, aspect="auto")
        ax.set_title(_label(series, opts))
        domains = series["domains"]
        ax.set_xticks(range(len(domains)), domains, rotation=45, ha="right")
        ax.set_yticks(range(len(domains) + 1), _row_labels(domains))
        ax.set_xlabel("evaluated domain j")
        if size <= 6:
            for (r, c), value in np.ndenumerate(matrix):
                if not np.isnan(value):
                    color = "black" if norm(value) > 0.6 else "white"
                    text = _cell_text(series, r, c, value)
                    ax.text(c, r, text, ha="center", va="center", fontsize=6, color=color)
    axes[0].set_ylabel("after phase i")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.85, label=unit)
    note = "with item-cluster bootstrap intervals" if unit == "accuracy" else "(no item intervals)"
    return Figure(
        svg=svg_of(fig),
        caption=f"Score matrix R[i, j] ({unit}), mean over seeds, {note}; blank cells were not "
        "measured; all panels share one colour scale",
        alt=f"Heatmaps of {unit} by training phase and evaluated domain, one per series",
        id=f"matrix-{'accuracy' if unit == 'accuracy' else 'loss'}",
    )


def _metric_cell(series: dict[str, Any], name: str) -> str:
    entry = series["metrics"].get(name)
    if entry is None:
        return DASH
    digits = 3
    text = f"{entry['mean']:+.{digits}f}"
    if not missing(entry["std"]):
        text += f" ± {entry['std']:.{digits}f}"
    if "ci_low" in entry and not missing(entry["ci_low"]):
        text += f" [{entry['ci_low']:+.{digits}f}, {entry['ci_high']:+.{digits}f}]"
    return text


def _metric_table(group: list[dict[str, Any]], opts: dict[str, Any], unit: str) -> Table:
    shown = [(k, title) for k, title in COLUMNS if any(k in s["metrics"] for s in group)]
    rows = [
        [_label(s, opts), s["prefix"], len(s["seeds"]), *(_metric_cell(s, k) for k, _ in shown)]
        for s in group
    ]
    notes = [
        "mean over seeds ± sample sd (ddof = 1) [item-cluster bootstrap interval]; gate names "
        "are <prefix>.<metric> (+ .std, .ci_low, .ci_high, .seed_<s>).",
        "A dash: not computable for this series (see the reasons below).",
    ]
    if unit != "accuracy":
        notes.append(
            "Loss: ACC and A are mean losses (metrics final_loss, a_loss; lower is better); "
            "differences are oriented like accuracy (BWT < 0 and forgetting > 0 mean forgetting)."
        )
    return Table(
        ["Series", "metric prefix", "seeds", *(title for _, title in shown)],
        rows,
        f"Continual-learning metrics ({unit})",
        notes,
        id=f"metrics-{'accuracy' if unit == 'accuracy' else 'loss'}",
    )


def _formula_table(specs: dict[str, Any]) -> Table:
    rows = [[k, v["formula"], v["source"]] for k, v in specs.items()]
    return Table(
        ["metric", "formula (R[i, j]: row i = phases trained, 0 = base)", "source"],
        rows,
        "Formulas and variants",
        [
            "GEM's BWT and FWT divide by T − 1; implementations that divide by T (or average "
            "every earlier row) differ: Continuum issue #281, SAPT issue #8.",
            "Avalanche's forgetting has no max, and its BWT is −forgetting (= GEM's BWT).",
        ],
        id="formulas",
    )


def _seed_table(series: list[dict[str, Any]], opts: dict[str, Any]) -> Table:
    rows = []
    for s in series:
        for seed in s["seeds"]:
            values = [s["metrics"].get(k, {}).get("seeds", {}).get(str(seed)) for k, _ in COLUMNS]
            rows.append(
                [_label(s, opts), seed, *(DASH if v is None else f"{v:+.4f}" for v in values)]
            )
    return Table(
        ["Series", "seed", *(title for _, title in COLUMNS)],
        rows,
        "Metrics per seed",
        id="per-seed",
    )


def _cells_table(series: list[dict[str, Any]], opts: dict[str, Any]) -> Table:
    rows = []
    for s in series:
        for r, row in enumerate(s["matrix"]):
            cells = [
                DASH if v is None else _cell_text(s, r, c, v).replace("\n", " ")
                for c, v in enumerate(row)
            ]
            width = max(len(x["domains"]) for x in series)
            rows.append(
                [
                    _label(s, opts),
                    _row_labels(s["domains"])[r],
                    *cells,
                    *[""] * (width - len(cells)),
                ]
            )
    width = max(len(x["domains"]) for x in series)
    return Table(
        ["Series", "after phase", *(f"domain {j}" for j in range(1, width + 1))],
        rows,
        "Score matrices, mean over seeds [interval]",
        ["Column j is the domain trained in phase j (named in the row labels)."],
        id="cells",
    )


def _attribution(entries: list[dict[str, Any]], opts: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    for entry in entries:
        m = entry["metrics"]

        def ci(name: str, m: dict[str, Any] = m) -> str:
            low, high = m.get(f"{name}_ci_low"), m.get(f"{name}_ci_high")
            return "" if low is None else f" [{low:+.3f}, {high:+.3f}]"

        cond = display(opts, entry["condition"])
        rows = [
            ["shared-module drift (oracle)", f"{m['shared_drift']:+.3f}{ci('shared_drift')}",
             "mean of R_oracle[k, j] − R_oracle[j, j] over k > j"],
            ["routing error (routed − oracle)", f"{m.get('routing_error', float('nan')):+.3f}"
             f"{ci('routing_error')}", "mean over cells j ≤ i of R_routed − R_oracle"],
        ]  # fmt: skip
        for split in entry["router_split"]:
            rows.append(
                [f"after phase {split['phase']}: oracle gap (n = {split['n']:.0f} pairs)",
                 f"{split['gap']:+.3f} = routing {split['gap_routing']:+.3f} + model "
                 f"{split['gap_model']:+.3f}", f"misrouted share {split['misrouted']:.1%}"]
            )  # fmt: skip
        blocks.append(
            Table(
                ["quantity", "value [interval]", "definition"],
                rows,
                f"{cond}: attribution (oracle arm {entry['oracle_arm']}, routed arm "
                f"{entry['routed_arm']})",
                [
                    "Oracle gap = oracle − routed on paired items (router plugin); its routing "
                    "part comes from misrouted items, its model part from correctly routed ones."
                ],
                id=f"attribution-{entry['condition']}",
            )
        )
    return blocks


def cl_section(result: dict[str, Any]) -> Section:
    """Heatmaps per source (one colour scale each), metric tables, formulas, attribution."""
    from crma_eval.plugins.cl import DEFINITIONS

    details, opts = result.get("details") or {}, result.get("report", {})
    series = details.get("series", [])
    blocks: list[Block] = []
    if result.get("skipped"):
        blocks.append(Paragraph(f"No matrix: {result['skipped']}."))
    for unit in ("accuracy", "loss (nats/token)"):
        group = [s for s in series if s["unit"] == unit]
        if group:
            blocks += [_heatmap(group, opts, unit), _metric_table(group, opts, unit)]
    if series:
        blocks += [
            _formula_table(details["specs"]),
            _seed_table(series, opts),
            _cells_table(series, opts),
        ]
    blocks += _attribution(details.get("attribution", []), opts)
    reasons = [f"{_label(s, opts)}: {k}: {v}" for s in series for k, v in s["skipped"].items()]
    reasons += details.get("notes", [])
    if reasons:
        blocks.append(Paragraph("Not computed: " + "; ".join(reasons) + "."))
    return Section(
        id="cl", title="Continual-learning matrix", blocks=blocks, definitions=list(DEFINITIONS)
    )
