"""OpenID Connect Core 1.0 ID tokens: who signed in, when and how, for the client that asked.

An ID token is minted with the access token of an authorization-code exchange or a refresh
whose scope holds ``openid`` (§3.1.3.3, §12.2). Its ``auth_time``, ``sid`` and ``amr`` are
those of the sign-in session the code was made in, kept by the whole grant family, so a
refreshed ID token states when the person actually signed in, not when it was refreshed.
It is signed with RS256 unless the client registered ``id_token_signed_response_alg``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jwt

from ..models import Client, User
from .keys import KeyRing
from .names import OIDCScope, SigningAlg

# §3.1.3.6: the hash of the JWS algorithm; EdDSA with Ed25519 uses SHA-512 (Core errata 2).
_HASHES: dict[str, Callable[[bytes], Any]] = {
    SigningAlg.RS256: hashlib.sha256,
    SigningAlg.ES256: hashlib.sha256,
    SigningAlg.EDDSA: hashlib.sha512,
}
# A nonce is echoed in every ID token of its code; longer ones are refused, not stored.
NONCE_MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class SignIn:
    """When and how the person proved who they are: a sign-in session's ``auth_time``,
    public id (``sid``) and authentication methods (``amr``, RFC 8176)."""

    auth_time: datetime
    sid: str | None
    amr: tuple[str, ...]


def at_hash(access_token: str, alg: str) -> str:
    """§3.1.3.6: base64url of the left half of the access token's hash."""
    digest = _HASHES[alg](access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def asks_for_id_token(scope: str) -> bool:
    return OIDCScope.OPENID in scope.split()


def refresh_allowed(client: Client, scope: str) -> bool:
    """OIDC Core §11: a person's OpenID Connect grant gets a refresh token only with
    ``offline_access`` — for a client registered with that scope. A client registered
    without it keeps what its ``refresh_token`` grant type gives, as for plain OAuth."""
    if not asks_for_id_token(scope) or OIDCScope.OFFLINE_ACCESS not in client.scopes:
        return True
    return OIDCScope.OFFLINE_ACCESS in scope.split()


def mint_id_token(
    keys: KeyRing, issuer: str, client: Client, user: User, access_token: str, sign_in: SignIn,
    nonce: str | None, issued_at: int, ttl: int,
) -> str:
    """The signed ID token (§2): ``aud`` and ``azp`` are the client, ``sub`` the same
    ``user:<id>`` subject as the access token's; ``nonce`` only when the request had one."""
    key = keys.active(client.id_token_signed_response_alg)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user.subject,
        "aud": client.client_id,
        "exp": issued_at + ttl,
        "iat": issued_at,
        "auth_time": int(sign_in.auth_time.timestamp()),
        "azp": client.client_id,
        "at_hash": at_hash(access_token, key.alg),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if sign_in.sid is not None:
        claims["sid"] = sign_in.sid
    if sign_in.amr:
        claims["amr"] = list(sign_in.amr)
    header = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
    return jwt.encode(header, claims, key.key, algorithms=[key.alg])
