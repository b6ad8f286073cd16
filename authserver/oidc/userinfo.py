"""UserInfo (OpenID Connect Core §5.3): the claims about the person an access token acts for.

The token must be one this server issued (found as introspection finds it: a JWT by its
verified ``jti``, an opaque value by its keyed hash), still live, issued for a person (a
client acting for itself has nobody to describe) and granted ``openid``. Which claims
come back follows the token's scope (§5.4); a claim with no value is left out (§5.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resource_guard.errors import AuthError, InsufficientScope, InvalidToken

from ..models import ACCESS, User
from ..oauth.names import OIDCScope, TokenTypeHint
from ..oauth.tokens import TokenService


def userinfo_claims(user: User, scope: str) -> dict[str, Any]:
    """``sub`` always; ``profile``: name, preferred_username, updated_at; ``email``: email,
    email_verified."""
    granted = set(scope.split())
    claims: dict[str, Any] = {"sub": user.subject}
    if OIDCScope.PROFILE in granted:
        claims.update(name=user.name, preferred_username=user.username, updated_at=int(user.updated_at.timestamp()))
    if OIDCScope.EMAIL in granted and user.email:
        claims.update(email=user.email, email_verified=user.email_verified)
    return {name: value for name, value in claims.items() if value not in (None, "")}


@dataclass(frozen=True)
class TokenOwner:
    """The person an access token acts for, and the scope it was granted."""

    user: User
    scope: str


def token_owner(tokens: TokenService, value: str, now: datetime) -> TokenOwner | AuthError:
    """Who ``value`` acts for, or why it may not be used here (RFC 6750 §3.1)."""
    token = tokens.find(value, TokenTypeHint.ACCESS_TOKEN)
    if token is None or token.kind != ACCESS:
        return InvalidToken("The access token is not one this server issued.")
    if not token.is_active(now):
        return InvalidToken("The access token has expired or was revoked.")
    user = token.user
    if user is None:
        return InvalidToken("The access token was issued to a client acting for itself; UserInfo describes people.")
    if not user.is_active:
        return InvalidToken("The access token's user is disabled.")
    if OIDCScope.OPENID not in token.scope.split():
        return InsufficientScope("The access token was not granted the openid scope.", needed_scope=OIDCScope.OPENID)
    return TokenOwner(user, token.scope)
