"""Grant types: Authlib's grants with this server's scope, audience and token rules.

``TokenIssuingMixin`` is the one place a grant turns (client, user, scope, context) into
tokens, so every grant follows the same rules: scope within the client's allowance,
audience from the client's registered audiences narrowed by RFC 8707 ``resource``. What a
grant settles on the way (audience, grant family) is one typed ``GrantContext``, set by the
grant's own steps and handed to the token service, never loose attributes on Authlib's
request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidScopeError, OAuth2Error, grants

from ..models import Client
from .names import CONFIDENTIAL_METHODS, GrantType
from .tokens import GrantContext, Issued, TokenService


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is not one this client may get tokens for."""

    error = "invalid_target"


def requested_audience(client: Client, resources: list[str]) -> tuple[str, ...]:
    """Audience per RFC 8707: the client's registered audiences, narrowed by ``resource``."""
    registered = client.audiences or [client.client_id]
    if not resources:
        return tuple(registered)
    unknown = [r for r in resources if r not in registered]
    if unknown:
        raise InvalidTargetError("The requested resource is not registered for this client.")
    return tuple(dict.fromkeys(resources))


class TokenIssuingMixin:
    """Scope and audience checks plus token minting and storing shared by every grant."""

    request: Any
    server: Any
    context: GrantContext

    def validate_requested_scope(self) -> None:
        client: Client = self.request.client
        scope = self.request.payload.scope
        if scope is not None and (not scope.split() or not set(scope.split()) <= set(client.scopes)):
            raise InvalidScopeError("The requested scope exceeds what this client may request.")
        self.context = GrantContext(requested_audience(client, self.request.payload.datalist.get("resource", [])))

    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> Issued:
        client: Client = self.request.client
        tokens: TokenService = self.server.tokens
        return tokens.issue(
            client,
            scope if scope is not None else client.scope,
            self.context,
            user=user,
            refresh=include_refresh_token and GrantType.REFRESH_TOKEN in client.grant_types,
        )

    def save_token(self, token: dict[str, Any]) -> None:
        """``token`` is what ``generate_token`` returned: the response with its rows."""
        if not isinstance(token, Issued):
            raise TypeError("save_token expects the Issued value generate_token returned")
        self.server.save_issued(token, self.request)


class ClientCredentialsGrant(TokenIssuingMixin, grants.ClientCredentialsGrant):
    """RFC 6749 §4.4; ``sub`` is the client itself."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(CONFIDENTIAL_METHODS)
