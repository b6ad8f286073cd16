"""Reading back a JWT this server signed: the one signature check access-token lookup and
``id_token_hint`` share (RFC 8725 §3.1: the algorithm is the key's, never the header's say)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError

from .keys import KeyRing


@dataclass(frozen=True)
class SignedByUs:
    """A JWT whose signature one of our keys made; its claims are not otherwise checked."""

    header: dict[str, Any]
    claims: dict[str, Any]


def verify_own_jwt(value: str, keys: KeyRing) -> SignedByUs | None:
    """The header and claims of ``value`` if one of our keys signed it, with that key's
    algorithm; None for anything else (unknown ``kid``, another algorithm, a bad signature,
    not a JWT at all)."""
    try:
        header = jws.extract_compact(value.encode()).protected
        found = keys.verification_key(str(header.get("kid", "")))
        if found is None or header.get("alg") != found[0]:
            return None
        token = jwt.decode(value, found[1], algorithms=[found[0]])
        # joserfc's JSON accepts NaN and Infinity; we never sign them (RFC 8259 has none),
        # so a token holding one is not ours: dumps refuses them with ValueError.
        json.dumps([header, token.claims], allow_nan=False)
    except (JoseError, ValueError, json.JSONDecodeError, UnicodeError):
        return None
    return SignedByUs(dict(header), dict(token.claims))
