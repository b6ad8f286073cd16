"""Registered-claim rules the JWT and introspection backends share (RFC 7519 §4.1, RFC 7662 §2.2).

Both answer the same questions about a token, whichever way it was checked: is it for this
resource server (``aud``), and are its dates well-formed NumericDates. Keeping the rules here
means a JWT and an introspected token for the same audience get the same verdict.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

logger = logging.getLogger(__name__)

#: The largest NumericDate accepted: 9999-12-31T23:59:59Z, the last second a ``datetime`` holds.
MAX_NUMERIC_DATE: Final = 253_402_300_799


class TokenRejected(Exception):
    """The token is invalid; the message is the reason the client is told."""


class _AnyAudience(enum.Enum):
    ANY_AUDIENCE = "ANY_AUDIENCE"

    def __repr__(self) -> str:
        return "resource_guard.backends.ANY_AUDIENCE"


#: Opt out of the audience check: accept tokens issued for *any* resource server. Dangerous:
#: a token a client obtained for another API (which that API may leak or replay) is then
#: accepted here too. Use it only when the issuer mints tokens for this server alone.
ANY_AUDIENCE: Final = _AnyAudience.ANY_AUDIENCE

#: What a bearer backend's ``audience`` argument accepts.
AudienceSetting = str | Iterable[str] | Literal[_AnyAudience.ANY_AUDIENCE]


def configured_audiences(audience: AudienceSetting | None, owner: str) -> frozenset[str] | None:
    """The audiences ``owner`` accepts; None only for :data:`ANY_AUDIENCE`.

    Raises ValueError when no audience is configured: a bearer backend that checks none would
    accept a token issued for another resource server.
    """
    if audience is ANY_AUDIENCE:
        logger.warning("%s accepts tokens issued for any audience (ANY_AUDIENCE)", owner)
        return None
    values = [audience] if isinstance(audience, str) else list(audience or ())
    if not values or not all(isinstance(value, str) and value for value in values):
        raise ValueError(
            f"{owner} needs audience=: the identifier of this resource server that its tokens "
            f'carry in "aud" (RFC 9068 §4, RFC 7662 §2.2), e.g. audience="https://api.example". '
            f"To accept tokens issued for any resource server (dangerous: a token meant for "
            f"another API would be accepted here), pass audience=resource_guard.backends."
            f"ANY_AUDIENCE.")
    return frozenset(values)


def token_audiences(aud: object) -> tuple[str, ...] | None:
    """A token's ``aud`` as a tuple (RFC 7519 §4.1.3: a string or a list of strings), or None
    when it has another shape."""
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(value, str) for value in aud):
        return tuple(aud)
    return None


def check_audience(accepted: frozenset[str] | None, claims: Mapping[str, Any]) -> None:
    """Raise TokenRejected unless the token's ``aud`` names one of ``accepted`` (any
    well-formed ``aud``, or none, when ``accepted`` is None: :data:`ANY_AUDIENCE`)."""
    if "aud" not in claims:
        if accepted is not None:
            raise TokenRejected("The token names no audience, so it is not for this resource server.")
        return
    audiences = token_audiences(claims["aud"])
    if audiences is None:
        raise TokenRejected('The token\'s "aud" must be a string or a list of strings.')
    if accepted is not None and accepted.isdisjoint(audiences):
        raise TokenRejected("The token is not intended for this resource server.")


def numeric_date(claims: Mapping[str, Any], name: str) -> int | None:
    """The claim ``name`` as a NumericDate (RFC 7519 §2), or None when absent.

    Only whole, non-negative seconds up to :data:`MAX_NUMERIC_DATE` are accepted: a bool, a
    string, a fraction, NaN, Infinity or 1e300 is a malformed token, never a date.
    """
    if name not in claims:
        return None
    value = claims[name]
    if type(value) is not int or not 0 <= value <= MAX_NUMERIC_DATE:
        raise TokenRejected(f'The "{name}" claim must be a whole number of seconds since 1970.')
    return value
