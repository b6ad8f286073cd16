"""JSON as RFC 8259 defines it: no ``NaN``, ``Infinity`` or numbers too large for a float,
and nothing nested deeper than :data:`MAX_DEPTH`.

Python's ``json`` module accepts those constants and turns ``1e400`` into ``inf``; a token or
an introspection answer carrying them is malformed, and letting one through turns a date check
into a comparison that is never true (NaN) or a conversion that raises (Infinity). Nesting is
bounded because the parser recurses: ``[`` repeated 30,000 times raises ``RecursionError``,
which no caller expects (a 500), and anything deep makes every later walk over the value deep.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: No token, metadata document or registration nests this deep (RFC 7591 metadata: 3 levels).
MAX_DEPTH = 32


class TooDeep(ValueError):
    """The JSON text nests arrays and objects deeper than :data:`MAX_DEPTH`."""


class NonFiniteNumber(ValueError):
    """The JSON text holds a number RFC 8259 §6 does not allow."""


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(f"{text[:20]} does not fit a finite number")
    return value


#: A decoder refusing non-finite numbers; :func:`raw_decode` adds the depth bound.
DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def loads(data: str | bytes) -> Any:
    """``json.loads`` refusing non-finite numbers and deep nesting (raises ``ValueError``:
    :class:`NonFiniteNumber` for NaN/Infinity/overflow, :class:`TooDeep` for nesting)."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    brackets = data.count(b"[") + data.count(b"{") if isinstance(data, bytes) else data.count("[") + data.count("{")
    if brackets > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def raw_decode(text: str) -> tuple[Any, int]:
    """:meth:`json.JSONDecoder.raw_decode` under the same rules: the value and where it ended,
    for callers that must also refuse anything around it (JOSE segments)."""
    try:
        value, end = DECODER.raw_decode(text)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    # Counting brackets is C-speed; only text with more of them than the bound is walked.
    if text.count("[", 0, end) + text.count("{", 0, end) > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value, end


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` deep (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
