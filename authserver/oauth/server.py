"""Authlib's Flask AuthorizationServer wired to this server's storage and token service."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from .tokens import TokenService


class AuthorizationServer(FlaskAuthorizationServer):
    def __init__(self, tokens: TokenService) -> None:
        super().__init__()
        self.tokens = tokens

    def query_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 64:
            return None
        return db.session.scalar(select(Client).where(Client.client_id == client_id))

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        db.session.add_all(request.issued.rows)
        db.session.commit()
