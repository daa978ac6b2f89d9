"""The project's one number reader: every way people write a number, read exactly as a Fraction.

Used by the corrected GSM8K extractor (`crma_eval.plugins.bench.gsm8k`) and by QA numeric scoring
(`crma_eval.scoring`). Values are `fractions.Fraction` (never float), so equality is exact: "3.50",
"3.5", "$3.50" and "7/2" name the same number, "0.1" and ".1" too.

Forms read (after `normalise` rewrites LaTeX and Unicode into plain text):
  - signs and currency in either order: "-$15", "$-15", "€30", "£2", "¥5";
  - digit groups: "1,250", "1 000 000" (ordinary, no-break or thin spaces), "1'000" (apostrophe);
  - decimals, with or without a leading zero: "3.5", ".5", "$.25";
  - fractions and mixed numbers: "3/4", "2 2/3", "#### 4 1/2", LaTeX "2\\frac{1}{2}", "½";
  - scientific: "1.5e2", "1.5 × 10^3", "1.5\\times10^{3}", "1.5·10³";
  - magnitude words after a number: "1.5 million" (thousand, million, billion, trillion);
  - money in units and subunits: "7 dollars and 50 cents", "$7 and 50 cents" (= 7.5);
  - a percent sign keeps the number as written ("25%" is 25);
  - numbers in words ("twenty-five", "one hundred and five"): `read_number_words`.

Abstention: a number written ambiguously reads as a span with value None rather than a guess —
a comma that is not a thousands separator ("1,5", "1,00,000"), a hyphenated fraction that may be a
subtraction ("2-1/2"), a mixed number with an improper fraction ("3 4/2"), a zero denominator, an
exponent beyond 10^±100, or subunits after a decimal ("7.5 dollars and 20 cents").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "NumberSpan",
    "canonical",
    "find_numbers",
    "normalise",
    "numbers_equal",
    "parse_number",
    "read_number_words",
]

_ATTRIBUTIVE = (
    r"(?:dollar|euro|pound|cent|gram|kilogram|liter|litre|meter|metre|mile|ounce|foot|inch"
    r"|gallon|yard|acre|second|minute|hour|day|week|month|year|page|piece|pack|box|person)"
)
_SEPARATED = r"\d{{1,3}}(?:{sep}\d{{3}}){{1,8}}(?!\d)"
_INTEGER = "|".join(
    (
        _SEPARATED.format(sep=",") + r"(?!,\d)",
        _SEPARATED.format(sep="'") + r"(?!'\d)",
        # space groups only where nothing suggests two numbers: "5 100ml", "2 500-gram", "2 1/2",
        # and a singular unit used attributively ("3 100 dollar bills", "4 250 gram bags")
        _SEPARATED.format(sep=" ") + rf"(?![^\W\d_]|[ ]?\d|\s*[/-]|[ ]+{_ATTRIBUTIVE}\b)",
        r"\d+",
    )
)
_CURRENCY = r"[$€£¥]"
_MONEY_UNIT = r"(?:dollars?|bucks|euros?|pounds?)"
_NUMBER = re.compile(
    rf"(?<![\w.])(?P<neg>-)?(?P<cur>{_CURRENCY}\s?)?(?P<neg2>-)?"
    r"(?:(?P<whole>\d+)[ \t]+(?P<mnum>\d+)[ \t]*/[ \t]*(?P<mden>\d+)(?![\d/]|\.\d)"
    rf"|(?:(?P<int>{_INTEGER})(?P<dec>\.\d+)?|(?P<lead>\.\d+))"
    r"(?:[ \t]*/[ \t]*(?P<den>\d+)(?![\d/]|\.\d))?)"
    r"(?:[eE](?P<exp>[-+]?\d+)(?!\w)"
    r"|[ \t]*[×x*·][ \t]*10[ \t]*\^[ \t]*\{?[ \t]*(?P<exp10>[-+]?\d+)[ \t]*\}?)?"
    r"(?:[ \t]*(?P<mag>thousand|million|billion|trillion)\b(?!-))?"
    r"(?P<pct>[ \t]*%)?"
    rf"(?:(?(cur)(?:[ \t]*{_MONEY_UNIT})?|[ \t]*{_MONEY_UNIT})"
    r"[ \t]+(?:and[ \t]+)?(?P<sub>\d{1,2})[ \t]*(?:cents?|pence|p)\b)?",
    re.I,
)
# After a number, these make it ambiguous: "1,5" (decimal comma or a list), "2-1/2" (2½ or 1.5).
_AMBIGUOUS_NEXT = re.compile(r",\d|-\d+[ \t]*/[ \t]*\d")
_MAGNITUDES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_MAX_EXPONENT = 100

_VULGAR = re.compile("[\u00bc-\u00be\u2150-\u215e]")
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_WRAPPER = re.compile(
    r"\\(?:text|textrm|textbf|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}"
)
_FRAC = re.compile(r"\\[dt]?frac\s*(?:\{([^{}]*)\}|(\d))\s*(?:\{([^{}]*)\}|(\d))")
_PLAIN_NUMBER = re.compile(r"\s*-?[$€£¥]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)\s*")
_REWRITES = [
    (re.compile(r"[\u00a0\u2007\u2009\u202f]"), " "),
    (re.compile(r"[’′]"), "'"),
    (re.compile(r"[−–—](?=\s?[$€£¥]?\.?\d)"), "-"),
    (re.compile("\u2044"), "/"),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\[,!;: ]"), ""),
    (re.compile(r"\\([$%])"), r"\1"),
    (re.compile(r"\\times"), " × "),
    (re.compile(r"\\cdot"), " * "),
    (re.compile(r"\\left|\\right|\\[()\[\]]"), " "),
    (re.compile(r"(?<=\d)\s*(?=\\[dt]?frac)"), " "),
]


@dataclass(frozen=True)
class NumberSpan:
    """One number written in a text: its [start, end) character span and exact value.

    `value` is None where the writing is ambiguous (see the module docstring); readers abstain.
    """

    start: int
    end: int
    value: Fraction | None


def _frac(match: re.Match[str]) -> str:
    """`\\frac{a}{b}` as "a/b" when both parts are numbers, else a marker without digits."""
    top = match[1] if match[1] is not None else match[2]
    bottom = match[3] if match[3] is not None else match[4]
    if _PLAIN_NUMBER.fullmatch(top) and _PLAIN_NUMBER.fullmatch(bottom):
        return f"{top.strip()}/{bottom.strip()}"
    return "[expression]"


def _vulgar(match: re.Match[str]) -> str:
    """A vulgar fraction character ("½") as " 1/2" (the space makes "2½" a mixed number)."""
    return " " + unicodedata.normalize("NFKC", match[0]).replace("\u2044", "/")


def normalise(text: str) -> str:
    """Rewrite LaTeX and Unicode number writing into the plain text `find_numbers` reads.

    Unwraps \\text{}/\\mathrm{}/\\mbox{} (nested), turns \\frac{a}{b} into "a/b" (a digit before
    it makes a mixed number), removes LaTeX thin spaces, maps Unicode minus signs, thin and
    no-break spaces, vulgar fractions and superscript powers of ten ("10³" -> "10^3").
    """
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    previous = None
    while previous != text:
        previous, text = text, _WRAPPER.sub(r"\1", text)
    text = _FRAC.sub(_frac, text)
    text = re.sub(r"10([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "10^" + m[1].translate(_SUPERSCRIPT), text)
    return _VULGAR.sub(_vulgar, text)


def _digits(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def _base_value(match: re.Match[str]) -> Fraction | None:
    """The value before exponent, magnitude, subunits and sign; None when ambiguous."""
    if match["whole"] is not None:
        top, bottom = int(match["mnum"]), int(match["mden"])
        if not 0 < top < bottom:
            return None
        return int(match["whole"]) + Fraction(top, bottom)
    decimals = match["dec"] or match["lead"] or ""
    whole = _digits(match["int"]) if match["int"] else 0
    value = Fraction(whole)
    if decimals:
        value += Fraction(int(decimals[1:]), 10 ** (len(decimals) - 1))
    if match["den"] is None:
        return value
    return None if int(match["den"]) == 0 else value / int(match["den"])


def _value(match: re.Match[str]) -> Fraction | None:
    """Exact value of one `_NUMBER` match, or None when its writing is ambiguous."""
    value = _base_value(match)
    if value is None:
        return None
    exponent = match["exp"] or match["exp10"]
    if exponent is not None:
        if abs(int(exponent)) > _MAX_EXPONENT:
            return None
        value *= Fraction(10) ** int(exponent)
    if match["mag"]:
        value *= _MAGNITUDES[match["mag"].lower()]
    if match["sub"] is not None:
        if value.denominator != 1:
            return None
        value += Fraction(int(match["sub"]), 100)
    return -value if (match["neg"] or match["neg2"]) else value


def find_numbers(text: str) -> list[NumberSpan]:
    """Every number of an already `normalise`d text, left to right (ambiguous ones valued None)."""
    spans = []
    for match in _NUMBER.finditer(text):
        value = _value(match)
        if _AMBIGUOUS_NEXT.match(text, match.end()):
            value = None
        spans.append(NumberSpan(match.start(), match.end(), value))
    return spans


def parse_number(text: str | None) -> Fraction | None:
    """Value of the first number written in `text` ("$1,250.00 a month" -> 1250), else None.

    None also when that first number is written ambiguously ("1,5").
    """
    if text is None:
        return None
    found = find_numbers(normalise(str(text)))
    return found[0].value if found else None


def numbers_equal(a: str | None, b: str | None) -> bool:
    """The project's numeric equality: both texts' first numbers exist and are exactly equal."""
    left, right = parse_number(a), parse_number(b)
    return left is not None and right is not None and left == right


def canonical(value: Fraction) -> str:
    """One text per value: plain decimal when exact ("1250", "3.5", "-0.25"), else "n/d" ("8/3")."""
    rest, powers = value.denominator, {2: 0, 5: 0}
    for prime in powers:
        while rest % prime == 0:
            rest, powers[prime] = rest // prime, powers[prime] + 1
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(powers.values())
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    text = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}".rstrip("0")
    return ("-" if value < 0 else "") + text.rstrip(".")


_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    " sixteen seventeen eighteen nineteen"
)
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_WORDS = {w: i for i, w in enumerate(_UNITS.split())}
_WORDS.update({w: 10 * i for i, w in enumerate(_TENS.split(), 2)})
_SCALES = {"hundred": 100, **_MAGNITUDES}


def read_number_words(text: str) -> Fraction | None:
    """Value of a number written in words at the start of text ("twenty-five" -> 25), else None."""
    total = current = 0
    seen = False
    for word in re.findall(r"[a-z]+", text.lower().split(".")[0])[:8]:
        if word in _WORDS:
            current += _WORDS[word]
        elif word in _SCALES and seen:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] > 100:
                total, current = total + current, 0
        elif word == "and" and seen:
            continue
        else:
            break
        seen = True
    return Fraction(total + current) if seen else None
