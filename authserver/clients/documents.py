"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25).

A client that meets this server for the first time may use, as its ``client_id``, the https
URL of a JSON document describing it. With ``client_id_metadata_documents = "on"`` the server
fetches that document (``authserver.net.fetch``: public addresses only, small, quick, no
redirects), checks it, and keeps it as a ``clients`` row marked by ``document_expires_at``,
so codes and tokens reference it like any other client. The row is refreshed from the
document once the cache time (the document's ``Cache-Control: max-age``, kept between
``MIN_CACHE_SECONDS`` and ``MAX_CACHE_SECONDS``) has passed.

What such a client may have is decided here, not by the document: it is public (``none``)
or authenticates with ``private_key_jwt``; it never has a secret; it may ask for any
registered protected resource (``authserver.resources``, read at token time, never copied
into the row) and the scopes ``clients.policy`` offers. Server extensions (audiences,
introspection) in the document are ignored. The row is written by ``registry.apply_metadata``,
as every other client's is.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidClientError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from resource_guard import strictjson

from .. import audit
from ..changes import Change, Kind, announce
from ..config import Settings
from ..extensions import db
from ..models import Client
from ..models.clients import BY_DOCUMENT
from ..models.resources import URI_LENGTH
from ..models.types import utcnow
from ..net.fetch import Fetched, FetchError, FetchLimits, fetch
from ..oauth.clients import ClientCache
from ..oauth.names import AuthMethod
from ..secrets import SecretHasher
from .metadata import ClientMetadata, InvalidClientMetadata
from .policy import ScopeOffer, check_outward_fields, scope_offer
from .registry import apply_metadata

MAX_DOCUMENT_BYTES = 5 * 1024  # the draft's example limit
FETCH_TIMEOUT_SECONDS = 5.0
MIN_CACHE_SECONDS = 300  # also when the document says no-store, no-cache or nothing
MAX_CACHE_SECONDS = 24 * 3600
DOCUMENT_AUTH_METHODS = (AuthMethod.NONE.value, AuthMethod.PRIVATE_KEY_JWT.value)
# The RFC 7591 fields a document may set; this server's extensions are not the client's to choose.
DOCUMENT_FIELDS = ("client_name", "grant_types", "response_types", "redirect_uris", "scope")
MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)

Fetcher = Callable[[str, FetchLimits], Fetched]


class ClientDocumentError(InvalidClientError):  # type: ignore[misc]  # Authlib is untyped
    """The metadata document could not be used. At the authorization endpoint this is an
    error page (its redirect URIs are not trusted yet); at the token endpoint
    ``invalid_client``. The reason is kept in the description, in ASCII as RFC 6749 wants it."""

    def __init__(self, reason: str) -> None:
        text = "The client metadata document at this client_id could not be used: " + reason
        super().__init__(description="".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text))


def is_document_client_id(client_id: str) -> bool:
    """A ``client_id`` that names a document rather than a registration: any http(s) URL
    (an http one is refused with a reason rather than reported unknown)."""
    return client_id.startswith(("https://", "http://"))


def check_document_url(client_id: str) -> None:
    """The draft's rules for the URL: https, a path, no fragment, no credentials, no dot segments."""
    parts = urlsplit(client_id)
    if parts.scheme != "https":
        raise ClientDocumentError("a client_id URL must use https.")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ClientDocumentError("a client_id URL needs a host and no user name or password.")
    if parts.path in ("", "/") or "#" in client_id:
        raise ClientDocumentError("a client_id URL needs a path (the document) and no fragment.")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise ClientDocumentError("a client_id URL may not contain . or .. path segments.")
    if len(client_id) > URI_LENGTH:
        raise ClientDocumentError(f"a client_id URL may be at most {URI_LENGTH} characters long.")


def cache_seconds(cache_control: str | None) -> int:
    """How long to keep a document: its max-age within [MIN_CACHE_SECONDS, MAX_CACHE_SECONDS]."""
    found = MAX_AGE.search(cache_control or "")
    if found is None or re.search(r"no-store|no-cache", cache_control or "", re.IGNORECASE):
        return MIN_CACHE_SECONDS
    return min(max(int(found.group(1)), MIN_CACHE_SECONDS), MAX_CACHE_SECONDS)


def _parsed(fetched: Fetched) -> dict[str, Any]:
    try:
        document = strictjson.loads(fetched.body.decode("utf-8"))
    except strictjson.TooDeep:
        raise ClientDocumentError(f"the document nests deeper than {strictjson.MAX_DEPTH} levels.") from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError among them
        raise ClientDocumentError("the document is not JSON.") from None
    if not isinstance(document, dict):
        raise ClientDocumentError("the document is not a JSON object.")
    return document


def _auth_method(document: dict[str, Any]) -> str:
    method = document.get("token_endpoint_auth_method", AuthMethod.NONE.value)
    if method not in DOCUMENT_AUTH_METHODS:
        raise ClientDocumentError("token_endpoint_auth_method must be none or private_key_jwt.")
    if method == AuthMethod.PRIVATE_KEY_JWT:
        has_jwks = isinstance(document.get("jwks"), dict) and isinstance(document["jwks"].get("keys"), list)
        has_uri = isinstance(document.get("jwks_uri"), str) and document["jwks_uri"].startswith("https://")
        if has_jwks == has_uri:
            raise ClientDocumentError("private_key_jwt needs exactly one of jwks (a key set) and jwks_uri (https).")
    return str(method)


def checked_document(client_id: str, document: dict[str, Any], offer: ScopeOffer) -> ClientMetadata:
    """The client the document describes, within what this server allows (a scope it does
    not offer is dropped, not refused: a document is not a negotiation). No audiences: the
    resources it may ask for are the registry's at token time (``ScopeOffer``), not a copy."""
    if document.get("client_id") != client_id:
        raise ClientDocumentError("the document's client_id is not exactly the URL it was fetched from.")
    if any(key.startswith("client_secret") for key in document):
        raise ClientDocumentError("the document may not contain a client_secret: anyone can read it.")
    for required in ("client_name", "redirect_uris"):
        if required not in document:
            raise ClientDocumentError(f"the document has no {required}.")
    method = _auth_method(document)
    fields = {key: document[key] for key in DOCUMENT_FIELDS if key in document}
    asked = fields.get("scope")
    if asked is not None and not isinstance(asked, str):
        raise ClientDocumentError("scope must be a string.")
    offered = offer.registrable()
    fields["scope"] = " ".join(s for s in asked.split() if s in offered) if asked else " ".join(sorted(offered))
    try:
        # Checked as a public client: no secret, no client_credentials, PKCE required.
        metadata = ClientMetadata.from_json({**fields, "token_endpoint_auth_method": AuthMethod.NONE.value})
        if method == AuthMethod.PRIVATE_KEY_JWT:  # then its keys, checked as a registration's are
            metadata = dataclasses.replace(metadata, token_endpoint_auth_method=method,
                                           jwks=document.get("jwks"), jwks_uri=document.get("jwks_uri"))
    except InvalidClientMetadata as exc:
        raise ClientDocumentError(exc.description + ".") from None
    return metadata


class ClientDocuments:
    """Fetches, checks, stores and refreshes metadata-document clients."""

    def __init__(self, settings: Settings, clients: ClientCache, hasher: SecretHasher,
                 fetcher: Fetcher = fetch) -> None:
        self.settings = settings
        self.hasher = hasher
        self.enabled = settings.client_id_metadata_documents
        self.allowed_hosts = settings.cimd_allowed_hosts
        self.limits = FetchLimits(MAX_DOCUMENT_BYTES, FETCH_TIMEOUT_SECONDS, self.allowed_hosts)
        self.clients = clients
        self.fetcher = fetcher

    def client(self, client_id: str) -> Client | None:
        """The client named by the URL, fetched when new or stale; None when documents are off."""
        if not self.enabled:
            return None
        check_document_url(client_id)
        host = (urlsplit(client_id).hostname or "").lower()
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise ClientDocumentError("this server accepts metadata documents only from the hosts it allows.")
        known = self.clients.get(client_id)
        if known is not None and known.document_expires_at is not None and known.document_expires_at > utcnow():
            return known
        try:
            fetched = self.fetcher(client_id, self.limits)
        except FetchError as exc:
            raise ClientDocumentError(exc.reason + ".") from None
        metadata = checked_document(client_id, _parsed(fetched), scope_offer(self.settings))
        try:  # refused now, as a registration's is: not at the first assertion
            check_outward_fields(metadata, self.settings)
        except InvalidClientMetadata as exc:
            raise ClientDocumentError(exc.description + ".") from None
        expires = utcnow() + timedelta(seconds=cache_seconds(fetched.headers.get("cache-control")))
        self._store(client_id, metadata, expires)
        return self.clients.get(client_id)

    def _store(self, client_id: str, metadata: ClientMetadata, expires: datetime) -> None:
        """Insert or refresh the row; of two workers inserting the same new client, the
        loser updates the winner's row."""
        for _ in range(2):
            row: Client | None = db.session.scalar(select(Client).where(Client.client_id == client_id))
            if row is None:
                row = Client(client_id=client_id, registered_by=BY_DOCUMENT)
                db.session.add(row)
                audit.record(audit.EventType.REGISTRATION_CREATED, audit.Actor.CLIENT, client_id=client_id,
                             via="metadata document", grant_types=list(metadata.grant_types), scope=metadata.scope)
            apply_metadata(self.hasher, row, metadata)  # never a secret: none or private_key_jwt
            row.document_expires_at = expires
            announce(Change(Kind.CLIENT, client_id))
            try:
                db.session.commit()
                return
            except IntegrityError:
                db.session.rollback()
        raise ClientDocumentError("the client could not be stored; try again.")
