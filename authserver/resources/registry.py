"""The protected resources registry: the APIs this server issues tokens for.

Each is named by its RFC 8707 resource indicator, the ``aud`` of the tokens issued for it.
A client that registered itself (RFC 7591, or a Client ID Metadata Document) may ask only for
these resources, and a token for one carries only that resource's scopes and the server-wide
ones (``clients.policy.ScopeOffer``); a client registered by an administrator keeps its
own ``audiences``. A change to the registry holds at the next token request; document
clients re-read their documents then (within ``client_cache_ttl`` on other workers).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..changes import Change, Kind, announce
from ..extensions import db
from ..models import Client, ProtectedResource
from ..models.resources import URI_LENGTH
from ..models.types import utcnow
from ..net.hosts import is_loopback
from ..oauth.names import OIDCScope
from .catalogue import CatalogueError, check_scope_name

# What every self-registered client may ask for besides the resources' scopes.
OPENID_SCOPES = tuple(OIDCScope)


class ResourceError(ValueError):
    """A registry change that cannot be made as asked."""


def is_resource_indicator(value: str) -> bool:
    """RFC 8707 §2: an absolute URI without a fragment (and, here, without spaces)."""
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path)) and "#" not in value and value.isprintable() \
        and not any(c.isspace() for c in value) and len(value) <= URI_LENGTH


def check_resource_uri(uri: str) -> str:
    """A URI the registry accepts: a resource indicator on https, or http on loopback."""
    parts = urlsplit(uri)
    if not is_resource_indicator(uri):
        raise ResourceError(f"resource {uri!r} must be an absolute URI without a fragment (RFC 8707 §2)")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ResourceError(f"resource {uri!r} must be an https URI with a host, e.g. https://api.example/mcp")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ResourceError(f"resource {uri!r} must use https (http is for loopback only)")
    return uri


def _checked_scope(scope: str) -> str:
    try:
        return " ".join(dict.fromkeys(check_scope_name(s) for s in scope.split()))
    except CatalogueError as exc:
        raise ResourceError(str(exc)) from None


def find_resource(uri: str) -> ProtectedResource | None:
    return db.session.scalar(select(ProtectedResource).where(ProtectedResource.uri == uri))


def all_resources() -> list[ProtectedResource]:
    return list(db.session.scalars(select(ProtectedResource).order_by(ProtectedResource.uri)))


def _expire_client_documents() -> None:
    """Metadata-document clients hold the scope the registry offered when their document was
    read: expire them all, so each re-reads its document against the new registry. RFC 7591
    clients need nothing: each of their tokens is checked against the registry as it is then
    (``clients.policy.ScopeOffer``)."""
    db.session.execute(
        update(Client).where(Client.document_expires_at.is_not(None)).values(document_expires_at=utcnow())
    )
    announce(Change(Kind.CLIENTS))


def create_resource(uri: str, scope: str = "", name: str = "") -> ProtectedResource:
    resource = ProtectedResource(uri=check_resource_uri(uri), scope=_checked_scope(scope), name=name.strip())
    db.session.add(resource)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ResourceError(f"resource {uri!r} is already registered") from None
    _expire_client_documents()
    db.session.commit()
    return resource


def update_resource(resource: ProtectedResource, scope: str | None = None, name: str | None = None) -> None:
    """Change what is given; ``None`` leaves that part as it is."""
    if scope is not None:
        resource.scope = _checked_scope(scope)
    if name is not None:
        resource.name = name.strip()
    _expire_client_documents()
    db.session.commit()


def delete_resource(resource: ProtectedResource) -> None:
    """Tokens already issued for it stay valid until they expire or are revoked."""
    db.session.delete(resource)
    _expire_client_documents()
    db.session.commit()


def resource_names(uris: list[str]) -> dict[str, str]:
    """The registered names of ``uris``, for the consent page; unnamed ones are left out."""
    if not uris:
        return {}
    query = select(ProtectedResource.uri, ProtectedResource.name).where(
        ProtectedResource.uri.in_(uris), ProtectedResource.name != "")
    return {uri: name for uri, name in db.session.execute(query)}


def resource_record(resource: ProtectedResource) -> dict[str, Any]:
    return {"uri": resource.uri, "name": resource.name, "scope": resource.scope,
            "created_at": resource.created_at, "updated_at": resource.updated_at}
