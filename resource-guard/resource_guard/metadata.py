"""Authorization server metadata discovery (RFC 8414, and OpenID Connect Discovery beside it).

Backends are configured with an issuer only; the JWKS and introspection endpoints are read from
``/.well-known/oauth-authorization-server`` once and kept, so nothing is re-parsed per request.
An issuer that answers that path with a 4xx is asked for ``/.well-known/openid-configuration``
instead (RFC 8414 §5): Google, Auth0 and Entra ID publish only the OpenID Connect document.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests

from resource_guard.cache import Clock
from resource_guard.httpclient import FetchError, StatusError, Timeout, get_json

if TYPE_CHECKING:
    import httpx

WELL_KNOWN = "/.well-known/oauth-authorization-server"
OPENID_CONFIGURATION = "/.well-known/openid-configuration"


def metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + path, "", ""))


def openid_configuration_url(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 §4: the well-known segment is appended to the issuer."""
    return issuer.rstrip("/") + OPENID_CONFIGURATION


def try_the_other(error: FetchError) -> bool:
    """A 4xx says the server has no document there, so the other well-known URL may; no
    answer at all (or a 5xx) says the server is in trouble, and a second request would not help."""
    return isinstance(error, StatusError) and 400 <= error.status < 500


class ServerMetadata:
    """One issuer's metadata, fetched lazily and refreshed every ``ttl`` seconds.

    A failed refresh keeps the last good document (retrying after ``retry_interval``), so an
    outage of the authorization server does not make already-known endpoints disappear.
    :meth:`endpoint_async` is the same on an event loop: concurrent misses share one fetch.
    """

    def __init__(self, issuer: str, *, session: requests.Session, timeout: Timeout,
                 clock: Clock = time.time, ttl: float = 3600.0,
                 retry_interval: float = 30.0, async_client: httpx.AsyncClient | None = None) -> None:
        self.issuer = issuer
        # Where the document was last found, tried first; the other URL after a 4xx there.
        self.url = metadata_url(issuer)
        self._other = openid_configuration_url(issuer)
        self._session = session
        self._async_client = async_client
        self._timeout = timeout
        self._clock = clock
        self._ttl = ttl
        self._retry_interval = retry_interval
        self._document: dict[str, Any] | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def endpoint(self, name: str) -> str:
        """The URL advertised as ``name`` (e.g. ``jwks_uri``); FetchError if unavailable."""
        return self._pick(self._get(), name)

    async def endpoint_async(self, name: str) -> str:
        """:meth:`endpoint` without blocking the event loop."""
        return self._pick(await self.document_async(), name)

    async def document_async(self) -> dict[str, Any]:
        """The whole document (FetchError if unavailable): a fresh one is answered inline, a
        fetch runs on the async client, shared by every concurrent caller."""
        document = self._fresh()
        if document is None:
            from resource_guard import aio

            document = await aio.shared((self, "metadata"), self._fetch_async)
        return document

    def _pick(self, document: dict[str, Any], name: str) -> str:
        value = document.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            raise FetchError(f"{self.url} advertises no usable {name}")
        return value

    def _fresh(self) -> dict[str, Any] | None:
        document = self._document
        return document if document is not None and self._clock() < self._expires_at else None

    def _get(self) -> dict[str, Any]:
        document = self._fresh()
        if document is not None:
            return document
        with self._lock:
            document = self._fresh()  # another thread fetched while we waited
            if document is not None:
                return document
            now = self._clock()
            try:
                fetched, _ = get_json(self._session, self.url, self._timeout)
            except FetchError as exc:
                if not try_the_other(exc):
                    return self._failed(now, exc)
                try:
                    fetched, _ = get_json(self._session, self._other, self._timeout)
                except FetchError as second:
                    return self._failed(now, FetchError(f"{exc}, and {second}"))
                self._found_at_other()
            return self._settle(now, fetched)

    async def _fetch_async(self) -> dict[str, Any]:
        from resource_guard import aio

        document = self._fresh()
        if document is not None:
            return document
        now = self._clock()
        try:
            fetched, _ = await aio.get_json(self._async_client, self.url, self._timeout)
        except FetchError as exc:
            if not try_the_other(exc):
                return self._failed(now, exc)
            try:
                fetched, _ = await aio.get_json(self._async_client, self._other, self._timeout)
            except FetchError as second:
                return self._failed(now, FetchError(f"{exc}, and {second}"))
            self._found_at_other()
        return self._settle(now, fetched)

    def _found_at_other(self) -> None:
        """The document lives at the other URL: ask there first from now on."""
        self.url, self._other = self._other, self.url

    def _settle(self, now: float, fetched: dict[str, Any]) -> dict[str, Any]:
        """Keep a fetched document if it names our issuer (RFC 8414 §3.3)."""
        if fetched.get("issuer") != self.issuer:
            return self._failed(now, FetchError(f"{self.url} names issuer {fetched.get('issuer')!r}, "
                                                f"not {self.issuer!r}"))
        self._document = fetched
        self._expires_at = now + self._ttl
        return fetched

    def _failed(self, now: float, error: FetchError) -> dict[str, Any]:
        """After a failed fetch: the last good document (retried later), else ``error``."""
        if self._document is None:
            raise error
        self._expires_at = now + self._retry_interval
        return self._document
