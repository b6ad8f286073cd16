"""Registering and changing OAuth clients: the rules the command line, tests and dynamic
registration (RFC 7591/7592) share. What a client may be is ``ClientMetadata``'s business."""

from __future__ import annotations

import secrets
from typing import Any

from resource_guard.tokens import BASE62

from .. import audit
from ..changes import Change, Kind, announce
from ..extensions import db
from ..models import Client
from ..models.clients import BY_ADMIN
from ..oauth.names import SECRET_METHODS, GrantType
from ..records import record
from ..secrets import SecretHasher, TokenKind, new_secret
from .metadata import (
    ClientMetadata,
    InvalidClientMetadata,
)


def new_client_id() -> str:
    """24 base62 characters: safe in URLs, Basic credentials and command lines (never a
    leading dash), and never containing the ``:`` of a person's ``user:<id>`` subject."""
    return "".join(secrets.choice(BASE62) for _ in range(24))


def register_client(
    hasher: SecretHasher, metadata: ClientMetadata, registered_by: str = BY_ADMIN,
    registration_token_hash: str | None = None,
) -> tuple[Client, str | None]:
    """Create a client; returns it with its secret (None unless it authenticates with one),
    shown once."""
    client = Client(
        client_id=new_client_id(), registered_by=registered_by, registration_token_hash=registration_token_hash
    )
    secret = apply_metadata(hasher, client, metadata)
    db.session.add(client)
    by_admin = registered_by == BY_ADMIN
    audit.record(audit.EventType.CLIENT_CREATED if by_admin else audit.EventType.REGISTRATION_CREATED,
                 audit.Actor.CLI if by_admin else audit.Actor.CLIENT, client_id=client.client_id,
                 name=client.name, grant_types=client.grant_types, scope=client.scope,
                 auth_method=client.token_endpoint_auth_method)
    db.session.commit()
    return client, secret


def apply_metadata(hasher: SecretHasher, client: Client, metadata: ClientMetadata) -> str | None:
    """Give ``client`` every field of ``metadata`` (not committed). A client that now
    authenticates with a secret and had none gets one, returned to be shown once; a client
    that no longer uses a secret loses it."""
    client.name = metadata.client_name
    client.grant_types = list(metadata.grant_types)
    client.scope = metadata.scope
    client.redirect_uris = list(metadata.redirect_uris)
    client.audiences = list(metadata.audiences)
    client.token_endpoint_auth_method = metadata.token_endpoint_auth_method
    client.token_format = metadata.access_token_format
    client.require_pkce = metadata.require_pkce
    client.resource_servers = list(metadata.resource_servers)
    client.introspect_any = metadata.introspect_any
    client.id_token_signed_response_alg = metadata.id_token_signed_response_alg
    client.post_logout_redirect_uris = list(metadata.post_logout_redirect_uris)
    client.backchannel_logout_uri = metadata.backchannel_logout_uri
    client.backchannel_logout_session_required = metadata.backchannel_logout_session_required
    client.jwks = metadata.jwks
    client.jwks_uri = metadata.jwks_uri
    if metadata.token_endpoint_auth_method not in SECRET_METHODS:
        client.client_secret_hash = None
    elif client.client_secret_hash is None:
        secret = new_secret(TokenKind.CLIENT_SECRET)
        client.client_secret_hash = hasher.hash(secret)
        return secret
    return None


def metadata_of(client: Client) -> ClientMetadata:
    """The registered client as ``ClientMetadata``: what RFC 7592 reads back, and the base
    a change is checked against (``dataclasses.replace`` checks the result again)."""
    return ClientMetadata(
        client_name=client.name,
        grant_types=tuple(client.grant_types),
        redirect_uris=tuple(client.redirect_uris),
        scope=client.scope,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        access_token_format=client.token_format,
        audiences=tuple(client.audiences),
        resource_servers=tuple(client.resource_servers),
        introspect_any=client.introspect_any,
        require_pkce=client.require_pkce,
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        post_logout_redirect_uris=tuple(client.post_logout_redirect_uris),
        backchannel_logout_uri=client.backchannel_logout_uri,
        backchannel_logout_session_required=client.backchannel_logout_session_required,
        jwks=client.jwks,
        jwks_uri=client.jwks_uri,
    )
    db.session.commit()


def rotate_client_secret(hasher: SecretHasher, client: Client) -> str:
    if client.token_endpoint_auth_method not in SECRET_METHODS:
        raise InvalidClientMetadata(
            "token_endpoint_auth_method", f"a {client.token_endpoint_auth_method} client has no secret to rotate"
        )
    secret = new_secret(TokenKind.CLIENT_SECRET)
    client.client_secret_hash = hasher.hash(secret)
    audit.record(audit.EventType.CLIENT_SECRET_ROTATED, audit.Actor.CLI, client_id=client.client_id)
    announce(Change(Kind.CLIENT, client.client_id))
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
        "jwks_uri": client.jwks_uri,
        "jwks": client.jwks,
        "registered_by": client.registered_by,
        "created_at": client.created_at,
    })
