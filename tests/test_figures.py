"""The shared forest plot: one row per estimate (first on top), intervals only where both bounds
exist, the overall rows as diamonds, a log axis for ratios."""

from __future__ import annotations

import math

from crma_eval import forest_svg
from crma_eval.figures import figure_style


def test_forest_rows_top_down_with_intervals_and_diamonds() -> None:
    with figure_style():
        svg = forest_svg([1.0, -2.0, 0.5], [0.0, math.nan, 0.1], [2.0, 1.0, 0.9],
                         ["first", "second", "all"], "difference (pp)", emphasized=1)  # fmt: skip
    positions = [svg.index(f">{label}<") for label in ("first", "second", "all")]
    assert positions == sorted(positions)
    assert "difference (pp)" in svg
    # two intervals drawn (the NaN bound is left out): one path per interval in one collection
    intervals = svg.split('id="LineCollection')[1].split("</g>")[0]
    assert intervals.count("<path") == 2
    assert svg.count('id="line2d') >= 2  # the points, and the diamond for the overall row


def test_forest_ratio_on_a_log_axis() -> None:
    with figure_style():
        ratio = forest_svg([1.2], [1.1], [1.3], ["t"], "ratio", reference=1.0, log=True)
        linear = forest_svg([1.2], [1.1], [1.3], ["t"], "ratio", reference=1.0)
    assert ratio != linear
