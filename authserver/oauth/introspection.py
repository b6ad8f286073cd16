"""RFC 7662 token introspection for JWT and opaque tokens alike."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as BaseIntrospectionEndpoint

from ..models import ACCESS, Client, Token
from ..models.types import utcnow
from .names import CONFIDENTIAL_METHODS, TokenTypeHint
from .tokens import TokenService

CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)


class TokenParamsMixin:
    """``token`` is required; ``token_type_hint`` is only a hint: every kind is searched
    anyway, so an unknown hint is ignored (RFC 7662 §2.1, RFC 7009 §2.1)."""

    server: Any

    def check_params(self, request: Any, client: Client) -> None:
        if not request.form.get("token"):
            raise InvalidRequestError("The token parameter is required.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        tokens: TokenService = self.server.tokens
        return tokens.find(token_string, token_type_hint)


class IntrospectionEndpoint(TokenParamsMixin, BaseIntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def check_permission(self, token: Token, client: Client, request: Any) -> bool:
        """RFC 7662 §4: a token is described only to its own client (which holds it anyway),
        to a resource server registered for one of its audiences, or to a client registered
        with ``--introspect-any``; anyone else is told ``{"active": false}``. Refresh tokens
        are never sent to resource servers, so an audience does not open them."""
        audience = token.audience if token.kind == ACCESS else []
        return client.may_introspect(token.client_pk, audience)

    def create_introspection_payload(self, token: Token | None) -> dict[str, Any]:
        # Anything not active answers exactly {"active": false} (RFC 7662 §2.2).
        active = token is not None and token.is_active(utcnow()) and token.rotated_at is None
        self.server.metrics.introspection(active)
        return self.introspect_token(token) if token is not None and active else {"active": False}

    def introspect_token(self, token: Token) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client.client_id,
            "sub": token.user.subject if token.user else token.client.client_id,
            "token_type": "Bearer" if token.kind == ACCESS else TokenTypeHint.REFRESH_TOKEN.value,
            "exp": int(token.expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "nbf": int(token.issued_at.timestamp()),
            "aud": token.audience[0] if len(token.audience) == 1 else token.audience,
            "iss": self.server.tokens.settings.issuer,
        }
        if token.jti:
            payload["jti"] = token.jti
        if token.user is not None:
            payload["username"] = token.user.username
        return payload
