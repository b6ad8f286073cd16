"""The public keys of private_key_jwt clients (RFC 7523 §2.2): registered inline (``jwks``)
or fetched from the client's ``jwks_uri``.

A fetched key set is kept by resource_guard's ``JWKSCache`` (Cache-Control lifetime within
bounds, an unknown ``kid`` refetches at most once per interval, a failed fetch keeps the last
good keys). The fetch itself is bounded: https only (checked at registration), no redirects,
at most ``MAX_FETCH_BYTES`` read within ``MAX_FETCH_SECONDS``, trusting the CA bundle named by
``SSL_CERT_FILE`` (else requests' own).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import requests

from resource_guard.cache import Clock
from resource_guard.jwks import JWKSCache, VerificationKey, parse_jwks

from ..models import Client

FETCH_TIMEOUT = (3.05, 5.0)  # (connect, read between bytes)
MAX_FETCH_BYTES = 65536
MAX_FETCH_SECONDS = 10.0
REFETCH_INTERVAL = 30.0  # an unknown kid (a rotated key) refetches at most this often
MAX_KEY_SETS = 1000


class BoundedSession(requests.Session):
    """A session that reads at most ``max_bytes`` of an answer, within ``max_seconds``
    overall: a key set is small, and a huge or slow-dripping answer must not hold a worker."""

    def __init__(self, max_bytes: int = MAX_FETCH_BYTES, max_seconds: float = MAX_FETCH_SECONDS) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.verify = os.environ.get("SSL_CERT_FILE") or True

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True
        kwargs["verify"] = self.verify  # here, as requests lets REQUESTS_CA_BUNDLE override the session's
        response = super().request(method, url, *args, **kwargs)
        deadline = time.monotonic() + self.max_seconds
        body = bytearray()
        with response:
            for chunk in response.iter_content(8192):
                body += chunk
                if len(body) > self.max_bytes:
                    raise requests.RequestException(f"the answer is larger than {self.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"the answer took longer than {self.max_seconds} seconds")
        response._content = bytes(body)
        return response


def pick_key(keys: dict[str | None, VerificationKey], kid: str | None) -> VerificationKey | None:
    """The key named by ``kid``; an assertion without ``kid`` matches a set of one key."""
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid)


class ClientKeys:
    """Finds the key a client signed with. ``key`` raises ``resource_guard.jwks.KeysUnavailable``
    when the client's ``jwks_uri`` cannot be fetched."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._key_sets: dict[str, JWKSCache] = {}
        self._lock = threading.Lock()

    def key(self, client: Client, kid: str | None) -> VerificationKey | None:
        if client.jwks is not None:
            return pick_key(parse_jwks(client.jwks), kid)
        if client.jwks_uri is not None:
            return self._key_set(client.jwks_uri).get(kid)
        return None

    def _key_set(self, uri: str) -> JWKSCache:
        with self._lock:
            key_set = self._key_sets.get(uri)
            if key_set is None:
                if len(self._key_sets) >= MAX_KEY_SETS:
                    self._key_sets.clear()
                key_set = JWKSCache(uri, session=BoundedSession(), timeout=FETCH_TIMEOUT, clock=self._clock,
                                    refetch_interval=REFETCH_INTERVAL)
                self._key_sets[uri] = key_set
            return key_set
