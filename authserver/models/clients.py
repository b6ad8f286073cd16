"""Registered OAuth clients, with the hooks Authlib's grants call (``ClientMixin``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from ..net.hosts import is_loopback_http
from ..oauth.names import SECRET_METHODS, AuthMethod, GrantType, ResponseType, SigningAlg
from ..secrets import SecretHasher
from .types import UTCDateTime, utcnow

# ``registered_by``: the command line (an administrator), or the client itself.
BY_ADMIN = "admin"
BY_SELF = "self"  # RFC 7591 registration
BY_DOCUMENT = "document"  # a Client ID Metadata Document


def _without_port(uri: str) -> tuple[str, str, str, str, str]:
    parts = urlsplit(uri)
    return parts.scheme, parts.hostname or "", parts.path, parts.query, parts.fragment


class Client(Model, ClientMixin):
    __tablename__ = "clients"
    # ``_hasher`` below is plain per-instance state, not a column.
    __allow_unmapped__ = True
    _hasher: SecretHasher | None = None

    id: Mapped[int] = mapped_column(primary_key=True)
    # Up to 2048: a client that registers itself by a metadata document is named by its URL.
    client_id: Mapped[str] = mapped_column(String(2048), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(2000), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    audiences: Mapped[list[str]] = mapped_column(JSON, default=list)
    # API identifiers this client serves as a resource server: it may introspect tokens
    # whose ``aud`` names one of them (RFC 7662 §4).
    resource_servers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Introspect any token, whatever its audience: for gateways and administration tools.
    introspect_any: Mapped[bool] = mapped_column(default=False)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40), default=AuthMethod.CLIENT_SECRET_BASIC)
    token_format: Mapped[str | None] = mapped_column(String(10))
    require_pkce: Mapped[bool] = mapped_column(default=True)
    # OpenID Connect Registration §2: how this client's ID tokens are signed.
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default=SigningAlg.RS256)
    # RP-Initiated Logout 1.0: where a logout request may send the person afterwards, exactly.
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed when a session ends.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set for a client defined by the Client ID Metadata Document at its ``client_id`` URL:
    # the document is fetched again once this passes (``clients.documents``).
    document_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def self_registered(self) -> bool:
        """Registered by nobody who vetted it: RFC 7591, or a metadata document."""
        return self.registered_by != BY_ADMIN

    # RFC 7591 §2: the public keys of a private_key_jwt client, inline or by https URL.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))
    registered_by: Mapped[str] = mapped_column(String(20), default=BY_ADMIN)
    # RFC 7592 §3: the keyed hash of a self-registered client's registration access token.
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == AuthMethod.NONE

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def may_introspect(self, token_client_pk: int, token_audience: list[str]) -> bool:
        """RFC 7662 §4: only a client the token concerns learns about it: the client it was
        issued to, a resource server for one of its audiences, or one allowed to see all."""
        return (
            self.introspect_any
            or token_client_pk == self.id
            or not set(self.resource_servers).isdisjoint(token_audience)
        )

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Requested scopes the client may have; none requested means all it may have."""
        if not scope:
            return self.scope
        allowed = set(self.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match (RFC 9700 §2.1); only native clients' loopback URIs may vary the port
        (RFC 8252 §7.3)."""
        if redirect_uri in self.redirect_uris:
            return True
        if not (self.is_public and is_loopback_http(redirect_uri, by_name=False)):
            return False
        wanted = _without_port(redirect_uri)
        return any(is_loopback_http(u, by_name=False) and _without_port(u) == wanted for u in self.redirect_uris)

    def bind_hasher(self, hasher: SecretHasher) -> None:
        """Give this client the server's keyed hash: Authlib calls ``check_client_secret``
        with the secret alone, and a model does not reach into the app for the rest. The
        lookup that hands clients to Authlib (``oauth.clients.ClientCache``) binds it."""
        self._hasher = hasher

    def check_client_secret(self, client_secret: str) -> bool:
        if self._hasher is None:
            raise RuntimeError("check_client_secret needs bind_hasher() first")
        return self._hasher.matches(client_secret, self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.token_endpoint_auth_method == AuthMethod.PRIVATE_KEY_JWT:
            return method == AuthMethod.PRIVATE_KEY_JWT  # it has no secret, at any endpoint
        if endpoint == "token":
            if self.is_public:
                return method == AuthMethod.NONE
            # a confidential client may use either secret method (RFC 6749 §2.3.1)
            return method in SECRET_METHODS
        return method in SECRET_METHODS and not self.is_public

    def check_response_type(self, response_type: str) -> bool:
        return response_type == ResponseType.CODE and GrantType.AUTHORIZATION_CODE in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types
