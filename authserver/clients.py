"""Registering and changing OAuth clients: the rules the command line, tests and (later)
dynamic registration share. What a client may be is ``ClientMetadata``'s business."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from resource_guard.tokens import BASE62

from .client_metadata import (
    ClientMetadata,
    InvalidClientMetadata,
    check_backchannel_logout_uri,
    check_id_token_alg,
    check_may_introspect,
    checked_post_logout_redirect_uris,
    checked_resource_servers,
)
from .extensions import db
from .models import Client
from .oauth.names import GrantType
from .records import record
from .secrets import SecretHasher, TokenKind, new_secret


def new_client_id() -> str:
    """24 base62 characters: safe in URLs, Basic credentials and command lines (never a
    leading dash), and never containing the ``:`` of a person's ``user:<id>`` subject."""
    return "".join(secrets.choice(BASE62) for _ in range(24))


def register_client(hasher: SecretHasher, metadata: ClientMetadata) -> tuple[Client, str | None]:
    """Create a client; returns it with its secret (None for public clients), shown once."""
    secret = None if metadata.is_public else new_secret(TokenKind.CLIENT_SECRET)
    client = Client(
        client_id=new_client_id(),
        client_secret_hash=hasher.hash(secret) if secret else None,
        name=metadata.client_name,
        grant_types=list(metadata.grant_types),
        scope=metadata.scope,
        redirect_uris=list(metadata.redirect_uris),
        audiences=list(metadata.audiences),
        token_endpoint_auth_method=metadata.token_endpoint_auth_method,
        token_format=metadata.access_token_format,
        require_pkce=metadata.require_pkce,
        resource_servers=list(metadata.resource_servers),
        introspect_any=metadata.introspect_any,
        id_token_signed_response_alg=metadata.id_token_signed_response_alg,
        post_logout_redirect_uris=list(metadata.post_logout_redirect_uris),
        backchannel_logout_uri=metadata.backchannel_logout_uri,
        backchannel_logout_session_required=metadata.backchannel_logout_session_required,
    )
    db.session.add(client)
    db.session.commit()
    return client, secret


@dataclass(frozen=True)
class ClientChanges:
    """What ``clients update`` changes; ``None`` leaves a field as it is (an empty
    ``backchannel_logout_uri`` stops the notices)."""

    resource_servers: list[str] | None = None
    introspect_any: bool | None = None
    id_token_signed_response_alg: str | None = None
    post_logout_redirect_uris: list[str] | None = None
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool | None = None


def update_client(client: Client, changes: ClientChanges) -> None:
    """Apply ``changes``: every value is checked before any is written, and one commit
    stores them all, so a refused option leaves the client as it was."""
    check_may_introspect(client.is_public, changes.resource_servers, changes.introspect_any)
    servers = changes.resource_servers
    if servers is not None:
        servers = list(checked_resource_servers(tuple(servers)))
    if changes.id_token_signed_response_alg is not None:
        check_id_token_alg(changes.id_token_signed_response_alg)
    logout_uris = changes.post_logout_redirect_uris
    if logout_uris is not None:
        logout_uris = list(checked_post_logout_redirect_uris(tuple(logout_uris)))
    if changes.backchannel_logout_uri is not None:
        check_backchannel_logout_uri(changes.backchannel_logout_uri or None)
    if servers is not None:
        client.resource_servers = servers
    if changes.introspect_any is not None:
        client.introspect_any = changes.introspect_any
    if changes.id_token_signed_response_alg is not None:
        client.id_token_signed_response_alg = changes.id_token_signed_response_alg
    if logout_uris is not None:
        client.post_logout_redirect_uris = logout_uris
    if changes.backchannel_logout_uri is not None:
        client.backchannel_logout_uri = changes.backchannel_logout_uri or None
    if changes.backchannel_logout_session_required is not None:
        client.backchannel_logout_session_required = changes.backchannel_logout_session_required
    db.session.commit()


def rotate_client_secret(hasher: SecretHasher, client: Client) -> str:
    if client.is_public:
        raise InvalidClientMetadata("token_endpoint_auth_method", "a public client has no secret to rotate")
    secret = new_secret(TokenKind.CLIENT_SECRET)
    client.client_secret_hash = hasher.hash(secret)
    db.session.commit()
    return secret


def client_record(client: Client, secret: str | None = None) -> dict[str, Any]:
    return record({"client_id": client.client_id}, "client_secret", secret, {
        "name": client.name,
        "grant_types": client.grant_types,
        "scope": client.scope,
        "redirect_uris": client.redirect_uris,
        "audiences": client.audiences,
        "resource_servers": client.resource_servers,
        "introspect_any": client.introspect_any,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "token_format": client.token_format,
        # PKCE protects authorization codes; a client that never gets one has nothing to require.
        "require_pkce": client.require_pkce and GrantType.AUTHORIZATION_CODE in client.grant_types,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "created_at": client.created_at,
    })
