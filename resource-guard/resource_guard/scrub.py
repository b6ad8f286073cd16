"""Masking credentials in text bound for logs (the Djblets ``SENSITIVE_CREDENTIALS_RE`` idea);
the one scrubber of both packages (authserver's log filter calls :func:`scrub`).

Two layers: the exact credentials a request presented are removed wherever they appear (an
exception message quoting the token), and anything shaped like a credential is masked too
(a JWT, a prefixed token, ``Bearer …``, ``password=…``), for what the request did not carry.
"""

from __future__ import annotations

import base64
import binascii
import re
import traceback
from collections.abc import Iterable

MASK = "************"

#: Credential names that must never be logged, in any case.
SENSITIVE_CREDENTIALS_RE = re.compile("api|token|key|secret|password|signature", re.IGNORECASE)

# Log lines are attacker input, so each scan is linear: a name's tail is bounded ({0,64}), so a
# line of ``token`` repeated thousands of times is not rescanned from every occurrence, and
# whitespace is possessive (``\s++``), any amount of it, never backtracked into.
_NAMES = r"api|token|key|secret|password|signature|code|verifier"
_SHAPES = [
    (re.compile(r"\beyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*"), MASK),                      # JWS compact
    # prefixed tokens (authserver's asat_...), whole or cut short: 8 or more base62 characters
    # with a digit or a capital among the first 64 (so snake_case words such as
    # client_credentials are not tokens)
    (re.compile(r"\b[a-z]{2,16}_(?=[0-9a-z]{0,63}[0-9A-Z])[0-9A-Za-z]{8,}"), MASK),
    (re.compile(r"(?i:(\b(?:basic|bearer|token)\s++))[\w\-.~+/=:]{8,}"), rf"\1{MASK}"),  # schemes
    (re.compile(rf"(?i:((?:{_NAMES})(?!_type|_hint|\w{{0,64}}(?:Error|Exception|Warning)\b)"
                r"\w{0,64}['\"]?\s*+[:=]\s*+['\"]?))"
                r"[^\s'\"&,}]+"), rf"\1{MASK}"),  # name=value; not token_type=, "KeyError: ..."
]
# Matches where any shape does: most lines (every access-log line) need one scan, not four.
_ANY_SHAPE = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _SHAPES))


def presented_secrets(authorization: str | None) -> list[str]:
    """The secret parts of an ``Authorization`` header: its value after the scheme, and for
    Basic the decoded ``user:password`` and password."""
    words = (authorization or "").split(None, 1)
    if len(words) < 2:
        return []
    scheme, value = words[0], words[1].strip()
    secrets = [value, *value.split()]
    for part in value.split() if scheme.lower() == "basic" else ():
        try:
            decoded = base64.b64decode(part, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        secrets += [text for text in (decoded, decoded.partition(":")[2]) if text]
    return secrets


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every one of ``secrets`` and anything shaped like a credential masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, MASK)
    if _ANY_SHAPE.search(text) is None:
        return text
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def scrubbed_traceback(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The traceback of ``exc`` (with its chained causes), scrubbed for a log line."""
    return scrub("".join(traceback.format_exception(exc)).rstrip(), secrets)
