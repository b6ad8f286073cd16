"""The public keys of private_key_jwt clients (RFC 7523 §2.2): registered inline (``jwks``)
or fetched from the client's ``jwks_uri``.

A fetched key set is kept by resource_guard's ``JWKSCache`` (Cache-Control lifetime within
bounds, an unknown ``kid`` refetches at most once per interval, a failed fetch keeps the last
good keys). The fetch itself is ``authserver.fetch``'s: https only, no redirects, at most
``MAX_FETCH_BYTES`` read within ``MAX_FETCH_SECONDS``, trusting the CA bundle named by
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``.

Whoever registers a client chooses its ``jwks_uri``. A client that registered itself (RFC 7591,
or a metadata document) is a stranger, so its key set is fetched from public addresses only,
except from the hosts an operator allow-listed (``cimd_allowed_hosts``, for development);
otherwise it could aim the server at internal services (SSRF). An administrator's client may
name an internal host: the administrator is trusted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from resource_guard.cache import Clock
from resource_guard.jwks import JWKSCache, KeysUnavailable, VerificationKey, parse_jwks

from ..models import Client
from ..models.clients import BY_ADMIN
from ..net.fetch import AddressRefused, FetchError, FetchLimits, Resolver, fetch, system_resolver

MAX_FETCH_BYTES = 65536
MAX_FETCH_SECONDS = 10.0
REFETCH_INTERVAL = 30.0  # an unknown kid (a rotated key) refetches at most this often
MAX_KEY_SETS = 1000


class KeySetRefused(KeysUnavailable):
    """A self-registered client's ``jwks_uri`` resolves to a non-public address."""


class FetcherSession(requests.Session):
    """A requests session whose every request is a GET made by ``authserver.fetch`` under
    ``limits``: ``JWKSCache`` keeps its caching rules, fetch.py keeps its safety rules.
    ``failure`` is why the last fetch failed (None after a success)."""

    def __init__(self, limits: FetchLimits, resolver: Resolver) -> None:
        super().__init__()
        self.limits = limits
        self.resolver = resolver
        self.failure: FetchError | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        name = method.decode() if isinstance(method, bytes) else method
        target = url.decode() if isinstance(url, bytes) else url
        if name.upper() != "GET":
            raise requests.RequestException(f"only GET is fetched, not {name}")
        try:
            fetched = fetch(target, self.limits, resolver=self.resolver)
        except FetchError as exc:
            self.failure = exc
            raise requests.RequestException(exc.reason) from None
        self.failure = None
        response = requests.Response()
        response.status_code = 200  # fetch() answers nothing else
        response.reason = "OK"
        response.headers = CaseInsensitiveDict(fetched.headers)
        response._content = fetched.body
        response.url = fetched.url
        response.request = requests.Request("GET", fetched.url).prepare()
        return response


def pick_key(keys: dict[str | None, VerificationKey], kid: str | None) -> VerificationKey | None:
    """The key named by ``kid``; an assertion without ``kid`` matches a set of one key."""
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid)


class ClientKeys:
    """Finds the key a client signed with. ``key`` raises ``KeySetRefused`` when a
    self-registered client's ``jwks_uri`` is not on a public address, and
    ``resource_guard.jwks.KeysUnavailable`` (whose message says why, for the log) when the key
    set cannot be fetched otherwise."""

    def __init__(self, allowed_hosts: Collection[str] = frozenset(), *, clock: Clock = time.time,
                 resolver: Resolver = system_resolver) -> None:
        self._limits = {
            False: FetchLimits(MAX_FETCH_BYTES, MAX_FETCH_SECONDS, frozenset(allowed_hosts)),
            True: FetchLimits(MAX_FETCH_BYTES, MAX_FETCH_SECONDS, allow_private=True),
        }
        self._clock = clock
        self._resolver = resolver
        self._key_sets: dict[tuple[str, bool], tuple[JWKSCache, FetcherSession]] = {}
        self._lock = threading.Lock()

    def key(self, client: Client, kid: str | None) -> VerificationKey | None:
        if client.jwks is not None:
            return pick_key(parse_jwks(client.jwks), kid)
        if client.jwks_uri is None:
            return None
        key_set, session = self._key_set(client.jwks_uri, trusted=client.registered_by == BY_ADMIN)
        try:
            return key_set.get(kid)
        except KeysUnavailable as exc:
            failure = session.failure
            if isinstance(failure, AddressRefused):
                raise KeySetRefused(failure.reason) from None
            raise KeysUnavailable(failure.reason if failure is not None else str(exc)) from None

    def _key_set(self, uri: str, *, trusted: bool) -> tuple[JWKSCache, FetcherSession]:
        """One cache per URL and trust: an administrator's key set fetched from an internal
        host is never handed to a self-registered client naming the same URL."""
        with self._lock:
            found = self._key_sets.get((uri, trusted))
            if found is None:
                if len(self._key_sets) >= MAX_KEY_SETS:
                    self._key_sets.clear()
                session = FetcherSession(self._limits[trusted], self._resolver)
                key_set = JWKSCache(uri, session=session, timeout=MAX_FETCH_SECONDS, clock=self._clock,
                                    refetch_interval=REFETCH_INTERVAL)
                found = self._key_sets[uri, trusted] = (key_set, session)
            return found
