"""Matplotlib figures as inline SVG strings (no files, no network, deterministic output).

Nothing here touches matplotlib's global state: figures are built without pyplot (so the
caller's backend is never switched) and the report's style applies only inside `figure_style()`,
a `matplotlib.rc_context` the renderer enters while plugins build their sections. Text is never
parsed as mathtext, so a `$` in a domain or arm name is printed as it is.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure as MplFigure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency; the report's categorical palette (C0, C1, … in matplotlib).
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

STYLE: dict[Any, Any] = {  # matplotlib's rcParams keys
    "svg.hashsalt": "crma-eval",  # deterministic ids
    "svg.fonttype": "none",  # text stays text (searchable, small)
    "font.size": 10,
    "text.parse_math": False,  # names are data, never mathtext
    "axes.prop_cycle": cycler(color=OKABE_ITO),
}


@contextmanager
def figure_style() -> Iterator[None]:
    """The report's figure style for the duration of the block (restored afterwards)."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float = 6.0, height: float = 3.2) -> tuple[MplFigure, Axes]:
    """A fresh figure and axes of the report's default size (inches), outside pyplot."""
    fig = MplFigure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def new_panels(n: int, width: float, height: float) -> tuple[MplFigure, list[Axes]]:
    """A fresh figure with `n` side-by-side axes (panels sharing one row), outside pyplot."""
    fig = MplFigure(figsize=(width, height), layout="constrained")
    return fig, list(fig.subplots(1, n, squeeze=False)[0])


def forest_svg(
    estimates: Any,
    lows: Any,
    highs: Any,
    labels: list[str],
    xlabel: str,
    *,
    reference: float = 0.0,
    log: bool = False,
    emphasized: int = 0,
    row_height: float = 0.3,
    min_height: float = 1.8,
    color: str = "C0",
) -> str:
    """A forest plot (SVG): one row per estimate with its interval, the first row on top, and a
    dashed line at `reference` (no change). The last `emphasized` rows (overall estimates) are
    drawn as diamonds; a row whose interval bound is NaN shows its point only; `log`: log-scaled
    x axis (ratios). The three sequences have one value per label, in the plot's units."""
    est, low, high = (np.asarray(v, float) for v in (estimates, lows, highs))
    y = np.arange(len(est))[::-1]
    fig, ax = new_figure(width=5.5, height=max(min_height, row_height * len(est) + 0.9))
    ok = ~(np.isnan(low) | np.isnan(high))
    ax.hlines(y[ok], low[ok], high[ok], color="0.25", linewidth=1.2)  # one artist for all
    split = len(est) - emphasized
    ax.plot(est[:split], y[:split], "o", color=color, markersize=4, linestyle="none")
    if emphasized:
        ax.plot(est[split:], y[split:], "D", color="C0", markersize=6, linestyle="none")
    ax.axvline(reference, color="0.5", linewidth=0.8, linestyle="--")
    if log:
        ax.set_xscale("log")
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    return svg_of(fig)


def svg_of(fig: MplFigure) -> str:
    """Render a figure to an SVG string (without the XML prolog)."""
    buf = io.StringIO()
    with matplotlib.rc_context({k: v for k, v in STYLE.items() if k.startswith("svg.")}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]
