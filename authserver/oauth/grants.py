"""Grant types: Authlib's grants with this server's scope, audience and token rules.

``TokenIssuingMixin`` is the one place a grant turns (client, user, scope, audience) into
tokens, so every grant follows the same rules: scope within the client's allowance,
audience from the client's registered audiences narrowed by RFC 8707 ``resource``.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidScopeError, OAuth2Error, grants

from ..models import Client


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is not one this client may get tokens for."""

    error = "invalid_target"


def requested_audience(client: Client, resources: list[str]) -> list[str]:
    """Audience per RFC 8707: the client's registered audiences, narrowed by ``resource``."""
    registered = client.audiences or [client.client_id]
    if not resources:
        return list(registered)
    unknown = [r for r in resources if r not in registered]
    if unknown:
        raise InvalidTargetError("The requested resource is not registered for this client.")
    return list(dict.fromkeys(resources))


class TokenIssuingMixin:
    """Scope and audience checks plus token minting shared by every grant."""

    request: Any
    server: Any

    def validate_requested_scope(self) -> None:
        client: Client = self.request.client
        scope = self.request.payload.scope
        if scope is not None and (not scope.split() or not set(scope.split()) <= set(client.scopes)):
            raise InvalidScopeError("The requested scope exceeds what this client may request.")
        self.request.audience = requested_audience(client, self.request.payload.datalist.get("resource", []))

    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        client: Client = self.request.client
        issued = self.server.tokens.issue(
            client,
            scope=scope if scope is not None else client.scope,
            audience=self.request.audience,
            user=user,
            family_id=getattr(self.request, "family_id", None),
            refresh=include_refresh_token and "refresh_token" in client.grant_types,
            family_expires_at=getattr(self.request, "family_expires_at", None),
            refresh_scope=getattr(self.request, "refresh_scope", None),
        )
        self.request.issued = issued
        return issued.response


class ClientCredentialsGrant(TokenIssuingMixin, grants.ClientCredentialsGrant):
    """RFC 6749 §4.4; ``sub`` is the client itself."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_token(self, token: dict[str, Any]) -> None:
        self.server.save_standalone_token(self.request)
