"""JSON Web Key Set fetching and caching (RFC 7517), for local JWT verification.

Keys are turned into verification objects once per fetch, each with the algorithms its type
allows (RFC 7518 §3, RFC 8037 §3.1), so a token can never pick its own algorithm: an HMAC or
``none`` token finds no key that accepts it. Unlike PyJWT's ``PyJWKClient``, a failed fetch
keeps the last good keys, and unknown ``kid`` values trigger at most one refetch per interval.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from resource_guard import metrics
from resource_guard.cache import Clock
from resource_guard.httpclient import FetchError, Timeout, get_json
from resource_guard.jws import MIN_RSA_BITS, VERIFIERS, SignatureVerifier
from resource_guard.metadata import ServerMetadata

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

_RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_CURVE_ALGS = {"EC": {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"},  # the one alg each
               "OKP": {"Ed25519": "EdDSA"}}

_MAX_AGE_RE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


class KeysUnavailable(Exception):
    """No usable key set could be obtained from the issuer (an outage, not a bad token)."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key and the algorithms a token signed with it may use."""

    kid: str | None
    key: Any
    algorithms: Mapping[str, SignatureVerifier]


def _algorithm_for(jwk: Mapping[str, Any]) -> str | None:
    """The one algorithm a JWK may verify: derived from its type and curve, narrowed by
    ``alg`` (an RSA key without ``alg`` means RS256)."""
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    if kty == "RSA":
        derived = "RS256" if alg is None else alg if alg in _RSA_ALGS else None
    else:
        curves = _CURVE_ALGS.get(kty) if isinstance(kty, str) else None
        derived = curves.get(crv) if curves is not None and isinstance(crv, str) else None
    return derived if alg is None or alg == derived else None


def _build_key(jwk: Mapping[str, Any]) -> VerificationKey | str:
    """A verification key for one JWK, or why it cannot verify our tokens (for the log)."""
    if jwk.get("use", "sig") != "sig" or "d" in jwk:  # encryption keys; leaked private keys
        return "not a public signature key"
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return "key_ops without verify"
    alg = _algorithm_for(jwk)
    kid = jwk.get("kid")
    if alg is None:
        return "no algorithm of its type and curve (or alg names another)"
    if kid is not None and not isinstance(kid, str):
        return "kid is not a string"
    try:
        key = PyJWK(dict(jwk), algorithm=alg).key
    except (PyJWTError, ValueError, TypeError, KeyError):
        return "malformed"
    verifier = VERIFIERS[alg]
    if verifier.accepts(key):
        return VerificationKey(kid, key, {alg: verifier})
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"key_too_weak: RSA {key.key_size} bits, under the {MIN_RSA_BITS} RFC 7518 §3.3 requires"
    return f"not a {alg} key"


def parse_jwks(document: Mapping[str, Any]) -> dict[str | None, VerificationKey]:
    """Usable keys of a JWKS document by ``kid``; unusable ones are skipped and logged."""
    keys: dict[str | None, VerificationKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError('JWKS has no "keys" list')
    for entry in entries:
        if not isinstance(entry, dict):
            logger.info("Skipping a JWKS entry that is not a JSON object")
            continue
        built = _build_key(entry)
        if isinstance(built, str):
            level = logging.WARNING if built.startswith("key_too_weak") else logging.INFO
            logger.log(level, "Skipping a JWK (kty=%s, kid=%s): %s", entry.get("kty"), entry.get("kid"), built)
            continue
        keys[built.kid] = built
    return keys


def cache_lifetime(cache_control: str | None, *, default: float, minimum: float,
                   maximum: float) -> float:
    """Seconds to keep a key set: Cache-Control ``max-age`` (RFC 9111 §5.2.2.1) clamped to
    [minimum, maximum]; ``no-store``/``no-cache`` mean the minimum."""
    ttl = default
    if cache_control:
        lowered = cache_control.lower()
        match = _MAX_AGE_RE.search(lowered)
        if "no-store" in lowered or "no-cache" in lowered:
            ttl = minimum
        elif match:
            ttl = float(match.group(1))
    return min(max(ttl, minimum), maximum)


class JWKSCache:
    """One issuer's key set, cached and refreshed safely.

    - refreshed when its Cache-Control lifetime (clamped to ``min_ttl``..``max_ttl``) ends;
    - an unknown ``kid`` refetches at most once per ``refetch_interval`` seconds, so a flood
      of random ``kid`` values costs at most one fetch per interval;
    - a failed fetch keeps the last good keys and is retried after ``refetch_interval``.

    ``source`` is the JWKS URL, or the issuer's metadata that advertises it. :meth:`get_async`
    applies the same rules on an event loop, where concurrent misses share one fetch.
    """

    def __init__(self, source: str | ServerMetadata, *, session: requests.Session,
                 timeout: Timeout, clock: Clock = time.time, min_ttl: float = 60.0,
                 max_ttl: float = 86400.0, default_ttl: float = 300.0,
                 refetch_interval: float = 15.0, async_client: httpx.AsyncClient | None = None) -> None:
        if not 0 < min_ttl <= max_ttl:
            raise ValueError("Need 0 < min_ttl <= max_ttl.")
        self._source = source
        self._session = session
        self._async_client = async_client
        self._timeout = timeout
        self._clock = clock
        self._min_ttl, self._max_ttl, self._default_ttl = min_ttl, max_ttl, default_ttl
        self._refetch_interval = refetch_interval
        self._keys: dict[str | None, VerificationKey] | None = None
        self._expires_at = 0.0
        self._last_attempt = float("-inf")
        self._last_failed = False
        self._lock = threading.Lock()

    def get(self, kid: str | None) -> VerificationKey | None:
        """The key for ``kid`` (a token without ``kid`` matches a set of exactly one key).

        Returns None for a key the issuer does not publish; raises KeysUnavailable when the
        answer is unknown because the issuer could not be reached.
        """
        now = self._clock()
        keys = self._keys
        if keys is None or now >= self._expires_at:
            keys = self._refresh(now, keys)
        key = self._lookup(keys, kid)
        if key is None and now - self._last_attempt >= self._refetch_interval:
            keys = self._refresh(now, keys, for_kid=True)
            key = self._checked_lookup(keys, kid)
        return key

    async def get_async(self, kid: str | None) -> VerificationKey | None:
        """:meth:`get` without blocking the event loop: known keys are answered inline."""
        now = self._clock()
        keys = self._keys
        if keys is None or now >= self._expires_at:
            keys = await self._refresh_async(now, keys)
        key = self._lookup(keys, kid)
        if key is None and now - self._last_attempt >= self._refetch_interval:
            keys = await self._refresh_async(now, keys, for_kid=True)
            key = self._checked_lookup(keys, kid)
        return key

    @staticmethod
    def _lookup(keys: dict[str | None, VerificationKey], kid: str | None
                ) -> VerificationKey | None:
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        return keys.get(kid)

    def _checked_lookup(self, keys: dict[str | None, VerificationKey], kid: str | None
                        ) -> VerificationKey | None:
        """The lookup after a refetch for ``kid``: still unknown because the fetch failed is
        an outage, not a verdict on the token."""
        key = self._lookup(keys, kid)
        if key is None and self._last_failed:
            raise KeysUnavailable("the issuer's key set could not be refreshed")
        return key

    def _refresh(self, now: float, seen: dict[str | None, VerificationKey] | None, *,
                 for_kid: bool = False) -> dict[str | None, VerificationKey]:
        """Fetch the key set if it is due and no other thread just did. While keys exist, a
        thread that finds an expiry refresh under way keeps using them instead of queueing."""
        if not self._lock.acquire(blocking=for_kid or seen is None):
            return seen  # type: ignore[return-value]  # only None when blocking
        try:
            ready = self._ready(now, seen, for_kid)
            if ready is not None:
                return ready
            self._last_attempt = now
            try:
                uri = self._source if isinstance(self._source, str) else self._source.endpoint("jwks_uri")
                document, response = get_json(self._session, uri, self._timeout)
            except FetchError as exc:
                return self._failed(now, exc)
            return self._settle(now, document, response.headers.get("Cache-Control"))
        finally:
            self._lock.release()

    async def _refresh_async(self, now: float, seen: dict[str | None, VerificationKey] | None, *,
                             for_kid: bool = False) -> dict[str | None, VerificationKey]:
        """:meth:`_refresh` on an event loop: one fetch per key set at a time, shared by every
        request that needs it; an expiry refresh under way leaves known keys in use."""
        from resource_guard import aio

        if seen is not None and not for_kid and aio.in_flight((self, "jwks")):
            return seen
        return await aio.shared((self, "jwks"), lambda: self._fetch_async(now, seen, for_kid))

    async def _fetch_async(self, now: float, seen: dict[str | None, VerificationKey] | None,
                           for_kid: bool) -> dict[str | None, VerificationKey]:
        from resource_guard import aio

        ready = self._ready(now, seen, for_kid)
        if ready is not None:
            return ready
        self._last_attempt = now
        try:
            uri = (self._source if isinstance(self._source, str)
                   else await self._source.endpoint_async("jwks_uri"))
            document, headers = await aio.get_json(self._async_client, uri, self._timeout)
        except FetchError as exc:
            return self._failed(now, exc)
        return self._settle(now, document, headers.get("Cache-Control"))

    def _ready(self, now: float, seen: dict[str | None, VerificationKey] | None,
               for_kid: bool) -> dict[str | None, VerificationKey] | None:
        """The keys to use without fetching, or None when a fetch is due now."""
        keys = self._keys
        if keys is not None and keys is not seen:
            return keys  # another caller refreshed while we waited
        if for_kid or keys is None:  # a retry or an unknown kid: at most once per interval
            if now - self._last_attempt >= self._refetch_interval:
                return None
        elif now >= self._expires_at:
            return None
        if keys is None:
            raise KeysUnavailable("the issuer's key set could not be fetched")
        return keys

    def _settle(self, now: float, document: dict[str, Any], cache_control: str | None
                ) -> dict[str | None, VerificationKey]:
        """Adopt a fetched key set, for as long as its Cache-Control allows."""
        try:
            keys = parse_jwks(document)
        except FetchError as exc:
            return self._failed(now, exc)
        metrics.jwks_fetch("ok")
        self._last_failed = False
        self._keys = keys
        self._expires_at = now + cache_lifetime(
            cache_control, default=self._default_ttl, minimum=self._min_ttl, maximum=self._max_ttl)
        return keys

    def _failed(self, now: float, exc: FetchError) -> dict[str | None, VerificationKey]:
        """After a failed fetch: the last good keys, retried after ``refetch_interval``."""
        self._last_failed = True
        metrics.jwks_fetch("error")
        logger.warning("JWKS fetch failed (%s); %s", exc,
                       "keeping the last good keys" if self._keys else "no keys yet")
        if self._keys is None:
            raise KeysUnavailable(str(exc)) from None
        self._expires_at = now + self._refetch_interval
        return self._keys
