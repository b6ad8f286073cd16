"""RFC 7009 revocation: a token and everything else of its grant family."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as BaseRevocationEndpoint
from sqlalchemy import ColumnElement, update

from ..audit import Actor, EventType, record
from ..database import rows_changed
from ..extensions import db
from ..models import Client, Token
from ..models.types import utcnow
from .introspection import CLIENT_AUTH_METHODS, TokenParamsMixin


def revoke_family(token: Token) -> None:
    """Revoke the token and, when it belongs to a grant, every token of that grant."""
    if token.family_id is None:
        revoke_where(Token.id == token.id)
        db.session.commit()
    else:
        revoke_grant(token.family_id)


def record_revocation(token: Token, actor: Actor) -> None:
    """``token.revoked`` for one token and its family, committed with the revocation."""
    record(EventType.TOKEN_REVOKED, actor, user=token.user.username if token.user else None,
           client_id=token.client.client_id, kind=token.kind, family_id=token.family_id)


def revoke_grant(family_id: str) -> None:
    """Revoke every token descended from one authorization: the answer to a replayed code
    (RFC 6749 §4.1.2) or a reused refresh token (RFC 9700 §4.14.2)."""
    revoke_where(Token.family_id == family_id)
    db.session.commit()


def revoke_where(*conditions: ColumnElement[bool]) -> int:
    """The one UPDATE that revokes tokens: every live one matching ``conditions``, in the
    caller's transaction (which commits it beside whatever else it changes); how many."""
    statement = update(Token).where(*conditions, Token.revoked_at.is_(None)).values(revoked_at=utcnow())
    return rows_changed(db.session.execute(statement))


class RevocationEndpoint(TokenParamsMixin, BaseRevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_token(self, request: Any, client: Client) -> Token | None:
        """A client revokes only its own tokens; another client's token is left alone and,
        so as not to reveal that it exists, answered like an unknown one (RFC 7009 §2.2)."""
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None or token.client_pk != client.id:
            return None
        return token

    def revoke_token(self, token: Token, request: Any) -> None:
        record_revocation(token, Actor.CLIENT)
        revoke_family(token)


def revoke_user_tokens(user_id: int) -> int:
    """Revoke every live token issued on a user's behalf (a disabled user keeps none)."""
    revoked = revoke_where(Token.user_id == user_id)
    db.session.commit()
    return revoked
