"""A strict, bounded parser for Kubernetes resource quantities (device counts such as nvidia.com/gpu).

The `kubernetes` client's parse_quantity builds a Decimal from whatever the
server sent: `1e999999` then takes seconds to turn into an int and
`1e9999999999` raises MemoryError, and Python's Decimal accepts non-ASCII
digits (a fullwidth `１`). Grammar (k8s.io/apimachinery resource.Quantity):

    quantity ::= sign? digits ("." digits?)? suffix?   | sign? "." digits suffix?
    suffix   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|k|M|G|T|P|E | (e|E) sign? digits

ASCII only. Values beyond `LIMIT` are refused (no node has 10^15 GPUs).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

LIMIT = 10**15
_GRAMMAR = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]{1,6}))?",
    re.ASCII,
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_count(text: object) -> int:
    """The whole number a quantity string stands for, rounded up as Kubernetes' Value() does.

    Raises ValueError for anything outside the grammar (non-ASCII digits included),
    or a value beyond LIMIT in magnitude; the work is bounded by the input's
    length (at most 64 characters), never by the exponent it names.
    """
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError("not a quantity")
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        raise ValueError("not a quantity")
    number = Decimal(match["number"])
    suffix, exponent = match["suffix"], int(match["exponent"] or 0)
    if suffix in _BINARY:
        value = number * (2 ** _BINARY[suffix])
    else:
        exponent += _DECIMAL.get(suffix or "", 0)
        # Check the size before scaling, so 1e999999 costs nothing.
        if number and number.adjusted() + exponent > 15:
            raise ValueError("quantity out of range")
        try:
            value = number.scaleb(exponent)
        except InvalidOperation:
            raise ValueError("quantity out of range") from None
    if abs(value) > LIMIT:
        raise ValueError("quantity out of range")
    return int(value.to_integral_value(rounding="ROUND_CEILING"))
