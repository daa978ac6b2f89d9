"""Matplotlib figures as inline SVG strings (no files, no network, deterministic output)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from cycler import cycler

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency; the report's categorical palette (C0, C1, … in matplotlib).
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

plt.rcParams.update(
    {
        "svg.hashsalt": "crma-eval",
        "svg.fonttype": "none",
        "font.size": 10,
        "axes.prop_cycle": cycler(color=OKABE_ITO),
    }
)


def new_figure(width: float = 6.0, height: float = 3.2) -> tuple[MplFigure, plt.Axes]:
    """A fresh figure and axes of the report's default size (inches)."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def svg_of(fig: MplFigure) -> str:
    """Render a figure to an SVG string (without the XML prolog) and close it."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]
