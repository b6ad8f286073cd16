"""``id_token_hint``: an ID token this server issued, presented back to it (RP-Initiated
Logout 1.0 §2, OpenID Connect Core §3.1.2.1).

The hint says who the relying party believes is signed in and which client it is, so it
must be ours: signed by one of our published keys with that key's algorithm, and issued by
us. It is a hint, not a credential: an expired one is still accepted (the spec allows it, as
a person often logs out long after the ID token's short life), and what it may cause is
decided by the caller, which compares it with the signed-in session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..oauth.keys import KeyRing
from ..oauth.own_jwt import verify_own_jwt

# Our other JWTs must not pass for an ID token: access tokens are ``at+jwt`` (RFC 9068),
# logout tokens ``logout+jwt`` (Back-Channel Logout 1.0 §2.4). ID tokens carry ``JWT`` or none.
ID_TOKEN_TYPES = (None, "JWT")
# Longer than any value we mint (RS256 over our claims is under 2 KB); refused before parsing.
MAX_LENGTH = 8192


class InvalidIdTokenHint(ValueError):
    """The hint is not an ID token this server issued; the message says why, for the page."""


@dataclass(frozen=True)
class IdTokenHint:
    """The verified claims a logout or authorization request may act on."""

    subject: str
    audience: tuple[str, ...]
    session_id: str | None  # ``sid``, when the token named the session it was issued in
    claims: dict[str, Any]

    @property
    def client_id(self) -> str | None:
        """The client the token was issued to: its only audience, else its ``azp``."""
        if len(self.audience) == 1:
            return self.audience[0]
        azp = self.claims.get("azp")
        return azp if isinstance(azp, str) and azp in self.audience else None


def verify_id_token_hint(value: str, keys: KeyRing, issuer: str) -> IdTokenHint:
    """The claims of ``value`` if this server issued it as an ID token; else
    ``InvalidIdTokenHint``. Expiry is deliberately not checked (see the module docstring)."""
    signed = verify_own_jwt(value, keys) if len(value) <= MAX_LENGTH else None
    if signed is None:
        raise InvalidIdTokenHint("The id_token_hint is not an ID token signed by this server.")
    if signed.header.get("typ") not in ID_TOKEN_TYPES:
        raise InvalidIdTokenHint("The id_token_hint is not an ID token.")
    claims = signed.claims
    if claims.get("iss") != issuer:
        raise InvalidIdTokenHint("The id_token_hint was issued by another server.")
    subject, audience, sid = claims.get("sub"), claims.get("aud"), claims.get("sid")
    audiences = (audience,) if isinstance(audience, str) else audience
    if (
        not isinstance(subject, str) or not subject
        or not isinstance(audiences, (tuple, list)) or not audiences
        or not all(isinstance(a, str) and a for a in audiences)
        or not (sid is None or isinstance(sid, str))
    ):
        raise InvalidIdTokenHint("The id_token_hint lacks the sub and aud every ID token has.")
    return IdTokenHint(subject, tuple(audiences), sid, claims)
