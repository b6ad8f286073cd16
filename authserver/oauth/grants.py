"""Grant types: Authlib's grants with this server's scope, audience and token rules.

``TokenIssuingMixin`` is the one place a grant turns (client, user, scope, context) into
tokens, so every grant follows the same rules: audience from the client's registered
audiences narrowed by RFC 8707 ``resource``, and scope from ``settled_scope``, for a sent
scope and an omitted one alike. What a grant settles on the way (audience, scope, grant
family) is one typed ``GrantContext``, set by the grant's own steps and handed to the token
service, never loose attributes on Authlib's request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidScopeError, OAuth2Error, grants

from ..clients.policy import ScopeOffer, scope_offer
from ..models import Client
from ..resources.registry import is_resource_indicator
from .names import CONFIDENTIAL_METHODS, GrantType
from .tokens import GrantContext, Issued, TokenService

# RFC 8707 sets no bound; a token names a handful of APIs, and one request's work (checks,
# audience lists, the token's size) must not grow with what a stranger sends.
MAX_RESOURCES = 16


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is not one this client may get tokens for."""

    error = "invalid_target"


def _checked_indicators(resources: list[str]) -> None:
    if len(resources) > MAX_RESOURCES:
        raise InvalidTargetError(f"At most {MAX_RESOURCES} resource parameters may be sent in one request.")
    if not all(is_resource_indicator(r) for r in resources):
        raise InvalidTargetError("Each resource must be an absolute URI without a fragment (RFC 8707 section 2).")


def requested_audience(client: Client, resources: list[str], offer: ScopeOffer | None) -> tuple[str, ...]:
    """Audience per RFC 8707: the client's registered audiences, narrowed by ``resource``.
    A self-registered client (``offer`` is then what the server offers it) may name any
    registered protected resource (``authserver resources``); when it names none, its tokens
    are for itself (UserInfo) alone: nobody chose an API for it."""
    _checked_indicators(resources)
    if offer is not None:
        registered = list(offer.resources) if resources else [client.client_id]
    else:
        registered = client.audiences or [client.client_id]
    if not resources:
        return tuple(registered)
    unknown = [r for r in resources if r not in registered]
    if unknown:
        raise InvalidTargetError("The requested resource is not registered for this client.")
    return tuple(dict.fromkeys(resources))


def settled_scope(scope: str, sent: bool, audience: tuple[str, ...], offer: ScopeOffer | None) -> str:
    """The scope a token carries: ``scope`` (what the client sent, else what it was given),
    and for a self-registered client only what ``offer`` offers for ``audience``, so a token
    for one resource never carries another's scope. A sent scope beyond that is refused; an
    omitted one is narrowed to it."""
    if offer is None:
        return scope
    offered = offer.for_audience(audience)
    wanted = scope.split()
    kept = [s for s in wanted if s in offered]
    if sent and len(kept) != len(wanted):
        raise InvalidScopeError("The requested scope is not offered by the requested resource.")
    if wanted and not kept:
        raise InvalidScopeError("None of this client's scopes is offered by the requested resource.")
    return " ".join(kept)


def narrowed_audience(granted: list[str], resources: list[str]) -> tuple[str, ...]:
    """RFC 8707 §2.2: a token request may name fewer of the resources the grant was for,
    never another one."""
    _checked_indicators(resources)
    if not resources:
        return tuple(granted)
    if not set(resources) <= set(granted):
        raise InvalidTargetError("The requested resource was not granted by this authorization.")
    return tuple(dict.fromkeys(resources))


class TokenIssuingMixin:
    """Scope and audience checks plus token minting and storing shared by every grant."""

    request: Any
    server: Any
    context: GrantContext

    def offer_for(self, client: Client) -> ScopeOffer | None:
        """What the server offers a client nobody vetted; None for an administrator's, whose
        registration is the whole rule (and whose token requests make no query for it)."""
        return scope_offer(self.server.tokens.settings) if client.self_registered else None

    def validate_requested_scope(self) -> None:
        client: Client = self.request.client
        scope = self.request.payload.scope
        if scope is not None and (not scope.split() or not set(scope.split()) <= set(client.scopes)):
            raise InvalidScopeError("The requested scope exceeds what this client may request.")
        offer = self.offer_for(client)
        audience = requested_audience(client, self.request.payload.datalist.get("resource", []), offer)
        sent = scope is not None
        self.context = GrantContext(audience, settled_scope(scope if sent else client.scope, sent, audience, offer))

    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> Issued:
        """``scope`` is Authlib's idea of it; the grant's own steps settled it in the context."""
        client: Client = self.request.client
        tokens: TokenService = self.server.tokens
        refresh = include_refresh_token and GrantType.REFRESH_TOKEN in client.grant_types
        return tokens.issue(client, self.context, user=user, refresh=refresh)

    def save_token(self, token: dict[str, Any]) -> None:
        """``token`` is what ``generate_token`` returned: the response with its rows."""
        if not isinstance(token, Issued):
            raise TypeError("save_token expects the Issued value generate_token returned")
        self.server.save_issued(token, self.request)


class ClientCredentialsGrant(TokenIssuingMixin, grants.ClientCredentialsGrant):
    """RFC 6749 §4.4; ``sub`` is the client itself."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(CONFIDENTIAL_METHODS)
