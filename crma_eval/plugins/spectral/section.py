"""Report section of the spectral plugin: deviation table and deviation-vs-step figure."""

from __future__ import annotations

from typing import Any

import numpy as np

from crma_eval import missing, new_figure, svg_of
from crma_eval.api import Figure, KeyValues, Section, Table


def _sci(value: Any) -> str:
    return "—" if missing(value) else f"{value:.2e}"


def _steps(row: dict[str, Any]) -> str:
    """The logged step range, '—' when only the checkpoint's own matrix was measured."""
    if row.get("first_step") is None:
        return "—"
    return f"{row['first_step']}–{row['last_step']}"


def _table(details: dict[str, Any]) -> Table:
    rows = [
        [
            r["module"],
            r["phase"],
            r.get("logged_steps", r["n"]),
            _steps(r),
            r["n"],
            _sci(r["max_dev"]),
            r["n_over_tol"],
        ]
        for r in details["phases"]
    ]
    return Table(
        columns=[
            "Module",
            "Phase",
            "logged steps",
            "step range",
            "matrices",
            "max |‖M‖₂ − 1|",
            f"over {details['tolerance']:g}",
        ],
        rows=rows,
        caption="Spectral-norm deviation per module and phase",
        notes=[
            "Logged steps and their range come from the training log only; matrices also "
            "counts the checkpoint's own measurement (source checkpoint)."
        ],
    )


def _figure(series: list[dict[str, Any]], tolerance: float) -> Figure:
    devs = np.concatenate([np.asarray(s["dev"], dtype=float) for s in series])
    positive = devs[devs > 0]
    floor = positive.min() / 10 if positive.size else 1e-12
    fig, ax = new_figure()
    phases = list(dict.fromkeys(s["phase"] for s in series))
    colors = {p: f"C{i % 10}" for i, p in enumerate(phases)}
    for s in series:
        ax.scatter(
            s["step"],
            np.maximum(np.asarray(s["dev"], dtype=float), floor),
            s=4,
            color=colors[s["phase"]],
            label=s["phase"],
        )
    if tolerance > 0:  # a zero tolerance has no place on a log axis
        ax.axhline(tolerance, color="red", linewidth=0.8, linestyle="--", label="tolerance")
    ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=7, title="phase", title_fontsize=7)
    ax.set_xlabel("training step")
    ax.set_ylabel("|‖M‖₂ − 1|")
    note = f"; exact zeros drawn at {floor:.1e}" if (devs == 0).any() else ""
    return Figure(svg=svg_of(fig), caption=f"Deviation of the spectral norm from 1 by step{note}")


def spectral_section(result: dict[str, Any]) -> Section:
    """Overall numbers, the per-module/phase table and the deviation-vs-step figure."""
    details = result["details"]
    overall = details["overall"]
    items = [
        ("measured matrices", overall["n"]),
        ("logged steps", overall.get("logged_steps", "—")),
        ("max |‖M‖₂ − 1|", _sci(overall["max_dev"])),
        (f"over tolerance {details['tolerance']:g}", overall["n_over_tol"]),
    ]
    items += [
        (k.replace("_", " "), _sci(overall[k]))
        for k in ("max_row_sum_err", "max_col_sum_err")
        if k in overall
    ]
    blocks: list[Any] = [
        KeyValues(items=items, caption="Spectral-norm invariant"),
        _table(details),
        _figure(details["series"], details["tolerance"]),
    ]
    return Section(id="spectral", title="Spectral-norm invariant", blocks=blocks)
