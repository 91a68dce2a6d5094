"""Resource quantities ("500m", "1Gi", "2e3") as k8s.io/apimachinery/pkg/api/resource reads and writes them.

The API server never stores what the client wrote: it parses each quantity and serializes it in
canonical form ("0.5" becomes "500m", "1024Mi" becomes "1Gi"), and resource lists are rounded up to
milli precision first. Getting this right is what makes ``kubectl get -o yaml`` show the same bytes
as a real cluster. Values are kept as exact ``Fraction``s so comparisons (requests <= limits) are exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

QUANTITY_REGEX = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QUANTITY = re.compile(QUANTITY_REGEX)
PARSE_ERROR = f"quantities must match the regular expression '{QUANTITY_REGEX}'"

BINARY, DECIMAL, EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"

_BINARY_SUFFIX = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIX.items()}
_BINARY_BY_EXP = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


@dataclass(frozen=True)
class Quantity:
    """An exact value and the format its suffix chose (which decides how it is written back)."""

    value: Fraction
    format: str = DECIMAL

    def __str__(self) -> str:
        return canonical(self.value, self.format)

    def round_up(self, scale: int) -> Quantity:
        """Round away from zero to a multiple of 10**scale, as Quantity.RoundUp does."""
        unit = Fraction(10) ** scale
        n = self.value / unit
        r = math.ceil(n) if n >= 0 else math.floor(n)
        return Quantity(Fraction(r) * unit, self.format)


def parse(raw: Any) -> Quantity:
    """Parse a quantity the way Quantity.UnmarshalJSON does (JSON numbers are accepted too)."""
    if isinstance(raw, bool) or raw is None:
        raise QuantityError(PARSE_ERROR)
    if isinstance(raw, (int, float)):
        raw = repr(raw) if isinstance(raw, float) else str(raw)
    if not isinstance(raw, str):
        raise QuantityError(PARSE_ERROR)
    s = raw.strip()
    if not s:
        raise QuantityError("quantities must match the regular expression")
    m = _QUANTITY.match(s)
    if not m:
        raise QuantityError(PARSE_ERROR)
    number, suffix = m.group(1), m.group(2)
    sign = -1 if number.startswith("-") else 1
    digits = number.lstrip("+-")
    if digits.count(".") > 1 or digits == ".":
        raise QuantityError(PARSE_ERROR)
    try:
        base = Fraction(digits if not digits.endswith(".") else digits[:-1] or "0") * sign
    except ValueError:
        raise QuantityError(PARSE_ERROR) from None
    if suffix in _BINARY_SUFFIX:
        value, fmt = base * (1024 ** _BINARY_SUFFIX[suffix]), BINARY
    elif suffix in _DECIMAL_SUFFIX:
        value, fmt = base * Fraction(10) ** _DECIMAL_SUFFIX[suffix], DECIMAL
    elif suffix[:1] in ("e", "E") and re.fullmatch(r"[-+]?[0-9]+", suffix[1:]):
        value, fmt = base * Fraction(10) ** int(suffix[1:]), EXPONENT
    else:
        raise QuantityError("unable to parse quantity's suffix")
    # Quantities carry at most nano precision; smaller fractions round up (away from zero).
    return Quantity(value, fmt).round_up(-9)


def canonical(value: Fraction, fmt: str) -> str:
    """Quantity.String(): the canonical text for a value in a format."""
    if value == 0:
        return "0"
    if fmt == BINARY and -1024 < value < 1024:
        fmt = DECIMAL
    if fmt == BINARY and value.denominator == 1:
        n, e = int(value), 0
        while e < 6 and n % 1024 == 0:
            n //= 1024
            e += 1
        return f"{n}{_BINARY_BY_EXP[e]}"
    if fmt == BINARY:
        fmt = DECIMAL
    # mantissa * 10**exp with exp a multiple of 3, the mantissa an integer, exp as large as possible
    v = value
    e = -9
    n = v * 10**9
    if n.denominator != 1:  # cannot happen after parse(); keep it exact anyway
        n = Fraction(math.ceil(n))
    m = int(n)
    while m % 1000 == 0 and e < 18:
        m //= 1000
        e += 3
    if fmt == EXPONENT:
        return f"{m}" if e == 0 else f"{m}e{e}"
    return f"{m}{_DECIMAL_BY_EXP[e]}"


def canonicalize(raw: Any, round_milli: bool = False) -> Any:
    """The canonical text for ``raw``, or ``raw`` unchanged when it does not parse (validation says why)."""
    try:
        q = parse(raw)
    except QuantityError:
        return raw
    if round_milli:
        q = q.round_up(-3)
    return str(q)


def canonicalize_list(resources: Any) -> None:
    """SetDefaults_ResourceList: round every quantity up to milli precision and write it canonically."""
    if isinstance(resources, dict):
        for k, v in list(resources.items()):
            resources[k] = canonicalize(v, round_milli=True)


def value_of(raw: Any) -> Fraction | None:
    """The exact value of a quantity, or None when it does not parse."""
    try:
        return parse(raw).value
    except QuantityError:
        return None


def go_struct(raw: Any) -> str:
    """``%#v`` of a resource.Quantity (how some upstream errors print the bad value).

    Mirrors what ParseQuantity keeps: the written digits as an int64 with a decimal scale ("1.5" is
    value 15, scale -1; "2k" is 2, 3; "1Gi" is 1073741824, 0), rounded up to milli as resource lists are.
    """
    try:
        q = parse(raw)
    except QuantityError:
        return str(raw)
    text = raw if isinstance(raw, str) else repr(raw) if isinstance(raw, float) else str(raw)
    m = _QUANTITY.match(text.strip())
    number, suffix = (m.group(1), m.group(2)) if m else ("0", "")
    sign = -1 if number.startswith("-") else 1
    whole, _, frac = number.lstrip("+-").partition(".")
    if suffix in _BINARY_SUFFIX:
        value, scale = q.value, 0
        n = value.numerator // value.denominator if value.denominator == 1 else None
        if n is None:  # a fractional binary value: Go keeps it as a decimal at milli scale
            n, scale = math.ceil(value * 1000), -3
    else:
        n = sign * int((whole or "0") + frac)
        scale = -len(frac) + (_DECIMAL_SUFFIX.get(suffix, 0) if suffix in _DECIMAL_SUFFIX else int(suffix[1:] or 0))
    if scale < -3:
        unit = 10 ** (-3 - scale)
        magnitude = -(-abs(n) // unit)  # rounded up, away from zero
        n = magnitude if n >= 0 else -magnitude
        scale = -3
    return (f"resource.Quantity{{i:resource.int64Amount{{value:{n}, scale:{scale}}}, "
            f'd:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:"", Format:"{q.format}"}}')
