"""Registering clients and users' API tokens: the rules both the CLI and tests rely on."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from resource_guard.tokens import BASE62

from .extensions import db
from .models import APIToken, Client, User
from .models.types import utcnow
from .secrets import SecretHasher, TokenKind, new_secret

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")


def new_client_id() -> str:
    """24 base62 characters: safe in URLs, Basic credentials and command lines (never a
    leading dash), and never containing the ``:`` of a person's ``user:<id>`` subject."""
    return "".join(secrets.choice(BASE62) for _ in range(24))


class RegistrationError(ValueError):
    """A client or token request that cannot be registered as asked."""


def _check_redirect_uri(uri: str) -> None:
    """Absolute, no fragment (RFC 6749 §3.1.2); http only for loopback (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri:
        raise RegistrationError(f"redirect URI {uri!r} must be absolute and carry no fragment")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise RegistrationError(f"redirect URI {uri!r} must use https (http is for loopback only)")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise RegistrationError(f"redirect URI {uri!r} has no host")


def register_client(
    hasher: SecretHasher,
    name: str,
    grant_types: list[str],
    scope: str = "",
    redirect_uris: list[str] | None = None,
    public: bool = False,
    token_format: str | None = None,
    audiences: list[str] | None = None,
    require_pkce: bool = True,
    resource_servers: list[str] | None = None,
    introspect_any: bool = False,
) -> tuple[Client, str | None]:
    """Create a client; returns it with its secret (None for public clients), shown once."""
    redirect_uris = list(dict.fromkeys(redirect_uris or []))
    grant_types = list(dict.fromkeys(grant_types))
    if not name.strip():
        raise RegistrationError("a client needs a name")
    unknown = set(grant_types) - set(GRANT_TYPES)
    if unknown or not grant_types:
        raise RegistrationError(f"grant types must be among {', '.join(GRANT_TYPES)}")
    if public and "client_credentials" in grant_types:
        raise RegistrationError("a public client cannot use client_credentials: it has no secret")
    if "authorization_code" in grant_types and not redirect_uris:
        raise RegistrationError("authorization_code needs at least one --redirect-uri")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise RegistrationError("refresh_token only comes with authorization_code")
    for uri in redirect_uris:
        _check_redirect_uri(uri)
    if token_format not in (None, "jwt", "opaque"):
        raise RegistrationError("token format must be jwt or opaque")
    resource_servers = checked_resource_servers(resource_servers or [])
    _check_may_introspect(public, resource_servers, introspect_any)
    secret = None if public else new_secret(TokenKind.CLIENT_SECRET)
    client = Client(
        client_id=new_client_id(),
        client_secret_hash=hasher.hash(secret) if secret else None,
        name=name.strip(),
        grant_types=grant_types,
        scope=" ".join(dict.fromkeys(scope.split())),
        redirect_uris=redirect_uris,
        audiences=list(dict.fromkeys(audiences or [])),
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        token_format=token_format,
        require_pkce=True if public else require_pkce,
        resource_servers=resource_servers,
        introspect_any=introspect_any,
    )
    db.session.add(client)
    db.session.commit()
    return client, secret


def checked_resource_servers(identifiers: list[str]) -> list[str]:
    """API identifiers a resource server serves: the ``aud`` values of the tokens it may
    introspect (RFC 7662 §4), each one word, as ``--audience`` gives them."""
    for identifier in identifiers:
        if not identifier or identifier != identifier.strip() or any(c.isspace() for c in identifier):
            raise RegistrationError(f"resource server identifier {identifier!r} must be one word, e.g. https://api.example")
    return list(dict.fromkeys(identifiers))


def _check_may_introspect(public: bool, resource_servers: list[str] | None, introspect_any: bool | None) -> None:
    if public and (resource_servers or introspect_any):
        raise RegistrationError("a public client cannot introspect tokens: it has no secret to authenticate with")


def set_introspection(client: Client, resource_servers: list[str] | None, introspect_any: bool | None) -> None:
    """Change what a registered client may introspect; ``None`` leaves that part as it is."""
    _check_may_introspect(client.is_public, resource_servers, introspect_any)
    if resource_servers is not None:
        client.resource_servers = checked_resource_servers(resource_servers)
    if introspect_any is not None:
        client.introspect_any = introspect_any
    db.session.commit()


def rotate_client_secret(hasher: SecretHasher, client: Client) -> str:
    if client.is_public:
        raise RegistrationError("a public client has no secret to rotate")
    secret = new_secret(TokenKind.CLIENT_SECRET)
    client.client_secret_hash = hasher.hash(secret)
    db.session.commit()
    return secret


def client_record(client: Client, secret: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"client_id": client.client_id}
    if secret is not None:
        record["client_secret"] = secret
    record.update(
        name=client.name,
        grant_types=client.grant_types,
        scope=client.scope,
        redirect_uris=client.redirect_uris,
        audiences=client.audiences,
        resource_servers=client.resource_servers,
        introspect_any=client.introspect_any,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        token_format=client.token_format,
        # PKCE protects authorization codes; a client that never gets one has nothing to require.
        require_pkce=client.require_pkce and "authorization_code" in client.grant_types,
        created_at=client.created_at,
    )
    return record


def create_api_token(
    hasher: SecretHasher,
    user: User,
    policy: dict[str, Any] | None = None,
    expires_in: int | None = None,
    note: str = "",
) -> tuple[APIToken, str]:
    """Create a legacy API token; returns the row and the token, shown once."""
    from resource_guard.policy import validate_policy

    if policy:
        try:
            validate_policy(policy)
        except ValueError as exc:
            raise RegistrationError(f"invalid policy: {exc}") from None
    if expires_in is not None and expires_in <= 0:
        raise RegistrationError("--expires-in must be a positive number of seconds")
    value = new_secret(TokenKind.API_TOKEN)
    row = APIToken(
        user_id=user.id,
        token_hash=hasher.hash(value),
        token_prefix=value[:12],
        expires=utcnow() + timedelta(seconds=expires_in) if expires_in else None,
        note=note,
        policy=policy or {},
    )
    db.session.add(row)
    db.session.commit()
    return row, value


def api_token_record(row: APIToken, value: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row.id}
    if value is not None:
        record["token"] = value
    record.update(
        user=row.user.username,
        prefix=row.token_prefix,
        note=row.note,
        policy=row.policy,
        created=row.created,
        last_used=row.last_used,
        expires=row.expires,
        valid=row.valid,
        invalid_date=row.invalid_date,
        invalid_reason=row.invalid_reason,
    )
    return record
