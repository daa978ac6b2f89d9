"""Which way a compare rule reads a metric: the worsening from the baseline, by its direction.

The metric catalogue (crma_eval.api.catalogue) says whether a higher or a lower value is better.
The worsening is baseline − current for higher-is-better metrics (accuracy, F1, BWT) and
current − baseline for lower-is-better ones (perplexity, loss, drift, forgetting, ECE, error
rates). A metric whose direction is unknown (a fallback entry, or none declared) is read as
higher-is-better, as before directions existed, and the detail says the direction was assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from crma_eval.api.catalogue import MetricInfo, direction_words
from crma_eval.fmt import gate_value


@dataclass(frozen=True)
class Orientation:
    """A metric's direction ("higher" or "lower" is better) and whether it was assumed."""

    direction: str
    assumed: bool = False

    @property
    def lower(self) -> bool:
        """True for lower-is-better metrics (the worsening is current − baseline)."""
        return self.direction == "lower"

    def worsening(self, baseline: float, current: float) -> float:
        """How much worse the current run is than the baseline (negative: better)."""
        return current - baseline if self.lower else baseline - current

    @property
    def words(self) -> str:
        """'lower is better', or 'higher is better assumed (direction unknown)'."""
        text = direction_words(self.direction)
        return f"{text} assumed (direction unknown)" if self.assumed else text

    def head(self, baseline: float, current: float) -> str:
        """'baseline 10 → 12, worse by 2 (lower is better)' (or 'better by ...')."""
        worse = self.worsening(baseline, current)
        change = (
            f"worse by {gate_value(worse)}" if worse >= 0 else f"better by {gate_value(-worse)}"
        )
        return f"baseline {gate_value(baseline)} → {gate_value(current)}, {change} ({self.words})"


def orientation(info: MetricInfo | None) -> Orientation:
    """The metric's declared direction, else higher-is-better marked as assumed."""
    known = None if info is None else info.known_direction
    return Orientation(known, False) if known is not None else Orientation("higher", True)
