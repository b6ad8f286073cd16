"""Minting access and refresh tokens (and OpenID Connect ID tokens beside them), and finding
a presented token again.

Access tokens are RFC 9068 JWTs (``typ: at+jwt``, signed by the key ring) or opaque
``asat_`` strings, per client or server default. Every access token gets a row (found by
``jti`` or by keyed hash) so introspection and revocation work for both formats.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from sqlalchemy import select

from ..audit import request_origin
from ..config import Settings
from ..extensions import db
from ..models import ACCESS, REFRESH, Client, Token, User
from ..models.types import utcnow
from ..secrets import SecretHasher, TokenKind, is_well_formed, new_secret
from .id_tokens import SignIn, asks_for_id_token, mint_id_token
from .keys import KeyRing
from .names import TokenFormat
from .own_jwt import verify_own_jwt


def new_jti() -> str:
    """A UUIDv7 (RFC 9562 §5.7) in 32 hex digits: the millisecond clock first, so each new
    row lands at the end of the ``jti`` index instead of on a random page of it (fewer pages
    written per token), and 74 random bits after it keep it unique."""
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = (rand >> 68) & 0xFFF, rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return f"{value:032x}"


def token_row(
    kind: str, client: Client, user: User | None, scope: str, context: GrantContext, issued_at: datetime,
    expires_at: datetime, *, token_hash: str | None = None, jti: str | None = None,
    token_format: str = TokenFormat.OPAQUE, family_expires_at: datetime | None = None,
) -> dict[str, Any]:
    """One ``tokens`` row as a dict; every row has the same keys, so a grant's rows go to
    the database in one multi-row INSERT."""
    sign_in = context.sign_in
    remote_addr, request_id = request_origin()
    return {
        "kind": kind, "token_hash": token_hash, "jti": jti, "family_id": context.family_id, "client_pk": client.id,
        "user_id": user.id if user else None, "scope": scope, "audience": list(context.audience),
        "token_format": token_format, "issued_at": issued_at, "expires_at": expires_at,
        "family_expires_at": family_expires_at, "auth_time": sign_in.auth_time if sign_in else None,
        "sid": sign_in.sid if sign_in else None, "amr": list(sign_in.amr) if sign_in else None,
        "remote_addr": remote_addr, "request_id": request_id,
    }


@dataclass(frozen=True, slots=True)
class GrantContext:
    """What a grant settled before minting, handed to ``TokenService.issue`` explicitly.

    ``scope`` is what the access token carries (``grants.settled_scope``);
    ``family_id`` ties the tokens to the authorization they descend from (None for client
    credentials), so a replayed code or rotated refresh token revokes them all;
    ``family_expires_at`` carries the family's absolute end across rotations;
    ``refresh_scope`` and ``refresh_audience`` keep a rotated refresh token at its original
    scope and audience when the access token was narrowed (RFC 6749 §6, RFC 8707 §2.2);
    ``sign_in`` is the person's sign-in the family comes from, which ID tokens state, and
    ``nonce`` the authorization request's (code exchange only).
    """

    audience: tuple[str, ...]
    scope: str
    family_id: str | None = None
    family_expires_at: datetime | None = None
    refresh_scope: str | None = None
    refresh_audience: tuple[str, ...] | None = None
    sign_in: SignIn | None = None
    nonce: str | None = None


class Issued(dict[str, Any]):
    """The RFC 6749 §5.1 response of one grant, carrying the rows to store and the context
    they were minted in. Authlib passes the response from ``generate_token`` to
    ``save_token`` and then to the client, so the rows travel with it, not beside it."""

    __slots__ = ("context", "rows")

    def __init__(self, response: dict[str, Any], rows: list[dict[str, Any]], context: GrantContext) -> None:
        super().__init__(response)
        self.rows = rows
        self.context = context


class TokenService:
    def __init__(self, settings: Settings, hasher: SecretHasher, keys: KeyRing) -> None:
        self.settings = settings
        self.hasher = hasher
        self.keys = keys

    def access_token_format(self, client: Client) -> str:
        return client.token_format or self.settings.access_token_format

    def issue(self, client: Client, context: GrantContext, user: User | None = None, refresh: bool = False) -> Issued:
        """Mint an access token and, if asked, a refresh token of the context's family; with
        ``openid`` in a person's scope, an ID token too (it lives as long as the access token,
        so a rotated key stays published while either may be checked)."""
        now = utcnow()
        ttl = self.settings.access_token_ttl
        scope = context.scope
        access, row = self._access_token(client, user, scope, context, now, ttl)
        response: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope}
        if user is not None and context.sign_in is not None and asks_for_id_token(scope):
            response["id_token"] = mint_id_token(self.keys, self.settings.issuer, client, user, access,
                                                 context.sign_in, context.nonce, int(now.timestamp()), ttl)
        rows = [row]
        if refresh:
            value = new_secret(TokenKind.REFRESH)
            family_end = context.family_expires_at or now + timedelta(seconds=self.settings.refresh_family_ttl)
            expires = min(now + timedelta(seconds=self.settings.refresh_token_ttl), family_end)
            refresh_scope = scope if context.refresh_scope is None else context.refresh_scope
            kept = context if context.refresh_audience is None else replace(context, audience=context.refresh_audience)
            rows.append(token_row(REFRESH, client, user, refresh_scope, kept, now, expires,
                                  token_hash=self.hasher.hash(value), family_expires_at=family_end))
            response["refresh_token"] = value
        return Issued(response, rows, context)

    def _access_token(
        self, client: Client, user: User | None, scope: str, context: GrantContext, now: datetime, ttl: int
    ) -> tuple[str, dict[str, Any]]:
        jti = new_jti()
        fmt = self.access_token_format(client)
        row = token_row(ACCESS, client, user, scope, context, now, now + timedelta(seconds=ttl), jti=jti,
                        token_format=fmt)
        if fmt == TokenFormat.OPAQUE:
            value = new_secret(TokenKind.ACCESS)
            row["token_hash"] = self.hasher.hash(value)
            return value, row
        audience = context.audience
        iat = int(now.timestamp())
        claims = {
            "iss": self.settings.issuer,
            "sub": user.subject if user else client.client_id,
            "aud": audience[0] if len(audience) == 1 else list(audience),
            "exp": iat + ttl,
            "iat": iat,
            "nbf": iat,
            "jti": jti,
            "client_id": client.client_id,
            "scope": scope,
        }
        if user is not None:
            claims["username"] = user.username
        key = self.keys.active()
        header = {"alg": key.alg, "typ": "at+jwt", "kid": key.kid}
        return jwt.encode(header, claims, key.key, algorithms=[key.alg]), row

    def find(self, value: str, hint: str | None = None) -> Token | None:
        """The stored token a presented value stands for; None for anything unknown or forged.

        A JWT must carry a valid signature from one of our keys before its ``jti`` is trusted.
        """
        if value.count(".") == 2:
            jti = self._verified_jti(value)
            return db.session.scalar(select(Token).where(Token.jti == jti, Token.kind == ACCESS)) if jti else None
        for kind, row_kind in ((TokenKind.ACCESS, ACCESS), (TokenKind.REFRESH, REFRESH)):
            if is_well_formed(value, kind):
                query = select(Token).where(Token.token_hash == self.hasher.hash(value), Token.kind == row_kind)
                return db.session.scalar(query)
        return None

    def _verified_jti(self, value: str) -> str | None:
        signed = verify_own_jwt(value, self.keys)
        if signed is None:
            return None
        jti = signed.claims.get("jti")
        return jti if isinstance(jti, str) and signed.claims.get("iss") == self.settings.issuer else None
