"""Authlib's Flask AuthorizationServer wired to this server's storage and token service."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc9207 import IssuerParameter as BaseIssuerParameter
from flask import Response
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from .tokens import TokenService


class IssuerParameter(BaseIssuerParameter):
    """RFC 9207 §2: every authorization response, errors included, names the issuer."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class AuthorizationServer(FlaskAuthorizationServer):
    def __init__(self, tokens: TokenService) -> None:
        super().__init__()
        self.tokens = tokens
        self.register_extension(IssuerParameter(tokens.settings.issuer))

    def query_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 64:
            return None
        return db.session.scalar(select(Client).where(Client.client_id == client_id))

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Client:
        """One answer for an unknown client and a wrong secret, so failures do not reveal
        which client ids exist."""
        try:
            return super().authenticate_client(request, methods, endpoint)  # type: ignore[no-any-return]
        except InvalidClientError as exc:
            exc.description = "Client authentication failed: unknown client, wrong secret or method."
            raise

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        db.session.add_all(request.issued.rows)
        db.session.commit()

    def authorization_error_response(self, error: OAuth2Error) -> Response:
        """An error found before a grant could answer (RFC 6749 §4.1.2.1), redirected like
        the grant's own responses: with ``state`` and ``iss``."""
        response: Response = self.handle_error_response(None, error)
        self.execute_hook("after_create_authorization_response", response)
        return response
