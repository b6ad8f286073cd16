"""JSON as RFC 8259 defines it: no ``NaN``, ``Infinity`` or numbers too large for a float.

Python's ``json`` module accepts those constants and turns ``1e400`` into ``inf``; a token or
an introspection answer carrying them is malformed, and letting one through turns a date check
into a comparison that is never true (NaN) or a conversion that raises (Infinity).
"""

from __future__ import annotations

import json
import math
from typing import Any


class NonFiniteNumber(ValueError):
    """The JSON text holds a number RFC 8259 §6 does not allow."""


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(f"{text[:20]} does not fit a finite number")
    return value


#: A decoder refusing non-finite numbers; its ``raw_decode`` serves callers that must also
#: refuse surrounding whitespace (JOSE segments).
DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def loads(data: str | bytes) -> Any:
    """``json.loads`` refusing non-finite numbers (raises ``ValueError``, of which
    :class:`NonFiniteNumber` is the kind for NaN/Infinity/overflow)."""
    return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
