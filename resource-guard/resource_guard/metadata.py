"""Authorization server metadata discovery (RFC 8414).

Backends are configured with an issuer only; the JWKS and introspection endpoints are read from
``/.well-known/oauth-authorization-server`` once and kept, so nothing is re-parsed per request.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from resource_guard.cache import Clock
from resource_guard.httpclient import FetchError, Timeout, get_json

WELL_KNOWN = "/.well-known/oauth-authorization-server"


def metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + path, "", ""))


class ServerMetadata:
    """One issuer's metadata, fetched lazily and refreshed every ``ttl`` seconds.

    A failed refresh keeps the last good document (retrying after ``retry_interval``), so an
    outage of the authorization server does not make already-known endpoints disappear.
    """

    def __init__(self, issuer: str, *, session: requests.Session, timeout: Timeout,
                 clock: Clock = time.time, ttl: float = 3600.0,
                 retry_interval: float = 30.0) -> None:
        self.issuer = issuer
        self.url = metadata_url(issuer)
        self._session = session
        self._timeout = timeout
        self._clock = clock
        self._ttl = ttl
        self._retry_interval = retry_interval
        self._document: dict[str, Any] | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def endpoint(self, name: str) -> str:
        """The URL advertised as ``name`` (e.g. ``jwks_uri``); FetchError if unavailable."""
        value = self._get().get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            raise FetchError(f"{self.url} advertises no usable {name}")
        return value

    def _get(self) -> dict[str, Any]:
        document = self._document
        if document is not None and self._clock() < self._expires_at:
            return document
        with self._lock:
            now = self._clock()
            if self._document is not None and now < self._expires_at:
                return self._document
            try:
                fetched, _ = get_json(self._session, self.url, self._timeout)
                if fetched.get("issuer") != self.issuer:  # RFC 8414 §3.3
                    raise FetchError(f"{self.url} names issuer {fetched.get('issuer')!r}, "
                                     f"not {self.issuer!r}")
            except FetchError:
                if self._document is None:
                    raise
                self._expires_at = now + self._retry_interval
                return self._document
            self._document = fetched
            self._expires_at = now + self._ttl
            return fetched
