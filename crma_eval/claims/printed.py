"""A number as printed: its value, the precision its digits imply, and comparisons at it.

The precision is read from the text as written in the claims file (`99.5` is one decimal, so a
unit in the last digit is 0.1 and the number stands for [99.45, 99.55]; `2e-16` is one
significant digit, a unit of 1e-16). A claim's `tolerance` overrides the half-unit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

RELATIONS: tuple[str, ...] = ("=", "<=", ">=")
# Relative slack for binary floating point: 99.45 must count as "99.5 to one decimal".
_FLOAT_SLACK = 1e-9
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Printed:
    """A printed number: `value`, its `text`, one `unit` in its last digit, and `tolerance`."""

    value: float
    text: str
    unit: float
    tolerance: float

    @classmethod
    def parse(cls, text: str, tolerance: float | None = None) -> Printed:
        """Parse printed text such as "-0.17", "100" or "2.0e-16" (ValueError if not a number)."""
        clean = text.strip().replace("_", "")
        if not _NUMBER.match(clean):
            raise ValueError(f"not a printed number: {text!r}")
        try:
            exponent = Decimal(clean).as_tuple().exponent
        except InvalidOperation:
            raise ValueError(f"not a printed number: {text!r}") from None
        if not isinstance(exponent, int):  # NaN / infinity never match the pattern above
            raise ValueError(f"not a printed number: {text!r}")
        unit = 10.0**exponent
        half = unit / 2 if tolerance is None else tolerance
        return cls(float(clean), text.strip(), unit, half)

    @property
    def decimals(self) -> int:
        """Digits after the decimal point that the printed unit implies (0 for integers)."""
        return max(0, -round(math.log10(self.unit)))

    def rounded(self, x: float) -> float:
        """`x` rounded to the printed unit (how the author would have printed it)."""
        return round(x / self.unit) * self.unit

    def show(self, x: float) -> str:
        """`x` written at the printed precision (scientific if the printed text is)."""
        if "e" in self.text.lower():
            scale = math.floor(math.log10(abs(self.value))) if self.value else 0
            digits = max(0, scale - round(math.log10(self.unit)))
            return f"{x:.{digits}e}"
        return f"{self.rounded(x):.{self.decimals}f}"

    def matches(self, x: float, relation: str = "=") -> bool:
        """True if `x` is printed as this number under `relation` (=, <=, >=), at tolerance."""
        slack = self.tolerance + _FLOAT_SLACK * max(abs(x), abs(self.value), self.unit)
        if relation == "<=":
            return x <= self.value + slack
        if relation == ">=":
            return x >= self.value - slack
        return abs(x - self.value) <= slack

    def last_digits(self, x: float) -> int:
        """Signed units in the last printed digit between `x` (rounded as printed) and this."""
        return round((self.rounded(x) - self.value) / self.unit)
