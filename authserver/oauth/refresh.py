"""RFC 6749 §6 refresh with rotation and reuse detection (RFC 9700 §4.14.2).

Every use of a refresh token replaces it with a new one of the same family; the family keeps
its absolute end (``family_expires_at``). Presenting a refresh token that was already
rotated means two parties hold it, so the whole family is revoked. Concurrent uses are
decided by one conditional UPDATE, committed with the new tokens.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from authlib.oauth2.rfc6749 import InvalidGrantError, grants
from sqlalchemy import update

from ..audit import Actor, EventType, record
from ..database import rows_changed
from ..extensions import db
from ..models import REFRESH, Token, User
from ..models.types import utcnow
from .authorization_code import TOKEN_AUTH_METHODS
from .grants import TokenIssuingMixin, narrowed_audience, settled_scope
from .id_tokens import SignIn
from .names import TokenTypeHint
from .revocation import revoke_family
from .tokens import GrantContext, TokenService

REUSED = "This refresh token was already used, so its grant has been revoked; ask the user to authorize again."


class RefreshTokenGrant(TokenIssuingMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        """A live refresh token; a rotated one revokes its family, whoever presents it."""
        tokens: TokenService = self.server.tokens
        row = tokens.find(refresh_token, TokenTypeHint.REFRESH_TOKEN)
        if row is None or row.kind != REFRESH:
            return None
        if row.rotated_at is not None:
            self._reused(row)
        now = utcnow()
        if not row.is_active(now) or (row.family_expires_at is not None and row.family_expires_at <= now):
            return None
        return row

    def _reused(self, token: Token) -> NoReturn:
        """RFC 9700 §4.14.2: a rotated token presented again revokes its whole family."""
        record(EventType.REFRESH_REUSE_DETECTED, Actor.CLIENT, user=token.user.username if token.user else None,
               client_id=token.client.client_id, family_id=token.family_id)
        revoke_family(token)
        self.server.metrics.refresh_reuse.inc()
        raise InvalidGrantError(REUSED)

    def authenticate_user(self, refresh_token: Token) -> User | None:
        user = refresh_token.user
        return user if user is not None and user.is_active else None

    def issue_token(self, user: User, refresh_token: Token) -> dict[str, Any]:
        """The scope ``create_token_response`` settled; the new refresh token keeps the
        original scope even when the access token narrows."""
        return self.generate_token(user=user, include_refresh_token=True)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Claim the presented token before minting; of concurrent uses one UPDATE matches,
        and every loser revokes the family after the winner's tokens are committed."""
        token: Token = self.request.refresh_token
        # RFC 8707 §2.2: ``resource`` may narrow this access token's audience; checked before
        # the claim, so a refused request leaves the refresh token usable.
        audience = narrowed_audience(token.audience, self.request.payload.datalist.get("resource", []))
        # Scope omitted means the original one (§6); Authlib has already refused a wider one.
        requested = (self.request.payload.scope or "").split()
        scope = settled_scope(" ".join(dict.fromkeys(requested)) or token.scope, bool(requested), audience,
                              self.offer_for(self.request.client))
        claimed = db.session.execute(
            update(Token)
            .where(Token.id == token.id, Token.rotated_at.is_(None), Token.revoked_at.is_(None))
            .values(rotated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if rows_changed(claimed) != 1:
            db.session.rollback()
            self._reused(token)
        # A family from before sign-ins were recorded has none: its refreshes get no ID token.
        sign_in = SignIn(token.auth_time, token.sid, tuple(token.amr or ())) if token.auth_time else None
        self.context = GrantContext(audience, scope, family_id=token.family_id,
                                    family_expires_at=token.family_expires_at, refresh_scope=token.scope,
                                    refresh_audience=tuple(token.audience), sign_in=sign_in)
        response: tuple[int, dict[str, Any], list[tuple[str, str]]] = super().create_token_response()
        return response

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """Nothing left to do: the claim in ``create_token_response`` marked it rotated."""
