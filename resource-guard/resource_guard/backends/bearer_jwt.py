"""Local validation of JWT access tokens (RFC 9068) against the issuer's JWKS.

The token is parsed once, the key is chosen by ``kid`` from keys built once per JWKS fetch, and
the algorithm must be one that key allows (RFC 8725 §3.1), so ``none``, HMAC-with-a-public-key
and algorithm/key-type confusion all fail. Verified tokens are cached until ``exp``: a repeat
request costs one hash, one dict lookup and one clock read.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import requests

from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.cache import Clock, MemoryCache
from resource_guard.claims import (
    AudienceSetting,
    TokenRejected,
    check_audience,
    configured_audiences,
    numeric_date,
    token_audiences,
)
from resource_guard.errors import InvalidToken, TemporarilyUnavailable
from resource_guard.httpclient import DEFAULT_TIMEOUT, Timeout, new_session
from resource_guard.jwks import JWKSCache, KeysUnavailable, VerificationKey
from resource_guard.metadata import ServerMetadata
from resource_guard.request import Request
from resource_guard.results import AuthResult, Expiry, Principal
from resource_guard.strictjson import raw_decode

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

#: RFC 9068 §2.2 claims every access token must carry.
REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
#: RFC 9068 §2.1 / §4: ``typ`` must be ``at+jwt`` (the ``application/`` prefix may be present).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Header parameters that would let a token name its own key (RFC 8725 §3.10): refused.
KEY_REFERENCE_HEADERS = ("jku", "x5u", "jwk", "x5c")


def _b64decode(segment: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2), refusing what a lenient decoder would skip over: the
    length check catches discarded characters, and ``+``/``/`` are not base64url."""
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if len(segment) != (4 * len(data) + 2) // 3 or "+" in segment or "/" in segment:
        raise ValueError("not base64url")
    return data


def _json_object(segment: str) -> dict[str, Any]:
    """A JOSE header or claims set: one JSON object and nothing around it, with only finite
    numbers (ValueError otherwise)."""
    text = _b64decode(segment).decode()
    value, end = raw_decode(text)
    if end != len(text) or not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class _Parsed(NamedTuple):
    """A token taken apart, its header checked: all that is left is its key and claims."""

    header_b64: str
    payload_b64: str
    header_known: bool
    alg: str
    kid: str | None
    claims: dict[str, Any]
    signature: bytes
    key_set: JWKSCache


class BearerJWTBackend(AuthBackend):
    """``Authorization: Bearer <JWT>`` validated locally (RFC 6750 §2.1, RFC 9068 §4).

    ``issuer`` may be one issuer or several: the token's ``iss`` picks the issuer's key set, so
    one backend serves them all (the chain stops at the first failure, so one backend per
    issuer would refuse the second issuer's tokens). A bearer token that is not a JWT is
    passed to the next backend (``None``), so ``IntrospectionBackend`` can follow this one.

    ``audience`` is required: this resource server's identifier (or several); a token whose
    ``aud`` names none of them is refused. :data:`~resource_guard.claims.ANY_AUDIENCE` opts out.
    """

    www_auth_scheme = "Bearer"
    name = "bearer_jwt"

    def __init__(self, issuer: str | Sequence[str], audience: AudienceSetting, *,
                 leeway: float = 30.0,
                 algorithms: Iterable[str] | None = None,
                 required_claims: Iterable[str] = REQUIRED_CLAIMS,
                 require_typ: bool = True,
                 understood_crit: Iterable[str] = (),
                 jwks_uri: str | None = None,
                 jwks_min_ttl: float = 60.0, jwks_max_ttl: float = 86400.0,
                 jwks_default_ttl: float = 300.0, kid_refetch_interval: float = 15.0,
                 cache_size: int = 10_000,
                 session: requests.Session | None = None, timeout: Timeout = DEFAULT_TIMEOUT,
                 async_client: httpx.AsyncClient | None = None,
                 clock: Clock = time.time, retry_after: int = 30,
                 realm: str = "api", name: str | None = None) -> None:
        """``session`` serves the sync path; ``async_client`` the async one (default: one
        shared client per event loop)."""
        super().__init__(realm=realm, name=name)
        issuers = [issuer] if isinstance(issuer, str) else list(issuer)
        if not issuers:
            raise ValueError("At least one issuer is required.")
        if jwks_uri is not None and len(issuers) != 1:
            raise ValueError("jwks_uri can only be given with a single issuer.")
        self.issuers: tuple[str, ...] = tuple(issuers)
        #: The accepted audiences; None when configured with ANY_AUDIENCE.
        self.audiences = configured_audiences(audience, type(self).__name__)
        self.leeway = leeway
        self.algorithms = frozenset(algorithms) if algorithms is not None else None
        self.required_claims = tuple(required_claims)
        self.require_typ = require_typ
        self.understood_crit = frozenset(understood_crit)
        self.retry_after = retry_after
        self._clock = clock
        self._verified = MemoryCache(cache_size, clock=clock)
        self._headers: dict[str, tuple[str, str | None]] = {}
        session = session or new_session()
        self._key_sets: dict[str, JWKSCache] = {}
        for iss in issuers:
            source = jwks_uri if jwks_uri is not None else ServerMetadata(
                iss, session=session, timeout=timeout, clock=clock, async_client=async_client)
            self._key_sets[iss] = JWKSCache(
                source, session=session, timeout=timeout, clock=clock, min_ttl=jwks_min_ttl,
                max_ttl=jwks_max_ttl, default_ttl=jwks_default_ttl,
                refetch_interval=kid_refetch_interval, async_client=async_client)

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        token = self.parse_authorization(request, "Bearer")
        if token is None or isinstance(token, AuthResult):
            return token
        if token.count(".") != 2:
            return None  # not a JWS compact serialisation: an opaque token for another backend
        return {"token": token}

    def _cached(self, token: str) -> tuple[str, AuthResult | None]:
        """The token's cache key and the verdict already reached for it, if any."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached: AuthResult | None = self._verified.get(digest)
        return digest, cached

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        token: str = credentials["token"]
        digest, cached = self._cached(token)
        if cached is not None:
            return cached
        try:
            outcome = self.verify(token)
        except (TokenRejected, KeysUnavailable) as exc:
            return self._refused(request, digest, exc)
        return self._accepted(digest, outcome)

    async def validate_credentials_async(self, request: Request, credentials: Credentials
                                         ) -> AuthResult:
        """The same checks; a cached token is answered inline, and only a key-set fetch
        awaits (shared by all concurrent requests that need it)."""
        token: str = credentials["token"]
        digest, cached = self._cached(token)
        if cached is not None:
            return cached
        try:
            outcome = await self.verify_async(token)
        except (TokenRejected, KeysUnavailable) as exc:
            return self._refused(request, digest, exc)
        return self._accepted(digest, outcome)

    def _accepted(self, digest: str, outcome: tuple[Principal, float]) -> AuthResult:
        principal, expires_at = outcome
        result = self.succeed(principal)
        self._verified.set_until(digest, result, expires_at)
        return result

    def _refused(self, request: Request, digest: str, exc: TokenRejected | KeysUnavailable
                 ) -> AuthResult:
        if isinstance(exc, TokenRejected):
            logger.info("Rejected a bearer JWT (sha256 %s...): %s", digest[:12], exc)
            return self.fail(request, InvalidToken(str(exc)))
        logger.warning("Cannot verify a bearer JWT: %s", exc)
        return self.fail(request, TemporarilyUnavailable(
            "The token issuer's keys are unavailable; retry later.", seconds=self.retry_after))

    def verify(self, token: str) -> tuple[Principal, float]:
        """Verify ``token`` fully; return its principal and the time the cache may keep it.

        Raises :class:`~resource_guard.claims.TokenRejected` with the reason, or
        :class:`~resource_guard.jwks.KeysUnavailable` during an issuer outage.
        """
        parsed = self._parse(token)
        return self._conclude(token, parsed, parsed.key_set.get(parsed.kid))

    async def verify_async(self, token: str) -> tuple[Principal, float]:
        """:meth:`verify`, fetching the key set (if it must) without blocking the loop."""
        parsed = self._parse(token)
        return self._conclude(token, parsed, await parsed.key_set.get_async(parsed.kid))

    def _parse(self, token: str) -> _Parsed:
        """Split and decode ``token``, check its header, find its issuer's key set."""
        header_b64, payload_b64, signature_b64 = token.split(".")
        known = self._headers.get(header_b64)
        try:
            if known is None:
                header = _json_object(header_b64)
            claims = _json_object(payload_b64)
            signature = _b64decode(signature_b64)
        except (ValueError, UnicodeDecodeError):
            raise TokenRejected("The token is not a well-formed JWT.") from None
        alg, kid = known if known is not None else self._check_header(header)
        iss = claims.get("iss")
        key_set = self._key_sets.get(iss) if isinstance(iss, str) else None
        if key_set is None:
            raise TokenRejected("The token was not issued by a trusted issuer.")
        return _Parsed(header_b64, payload_b64, known is not None, alg, kid, claims, signature, key_set)

    def _conclude(self, token: str, parsed: _Parsed, key: VerificationKey | None
                  ) -> tuple[Principal, float]:
        """The signature and claim checks, once the token's key is known (or known absent)."""
        if key is None:
            raise TokenRejected("The token was signed with a key the issuer does not publish.")
        algorithm = key.algorithms.get(parsed.alg)
        if algorithm is None:
            raise TokenRejected(f"The token's algorithm {parsed.alg} does not match its key.")
        signing_input = token[:len(parsed.header_b64) + 1 + len(parsed.payload_b64)].encode()
        if not algorithm.verify(signing_input, key.key, parsed.signature):
            raise TokenRejected("The token signature is invalid.")
        if not parsed.header_known:
            self._remember_header(parsed.header_b64, (parsed.alg, parsed.kid))
        expires_at = self._check_claims(parsed.claims)
        return self._principal(parsed.claims, expires_at), expires_at + self.leeway

    def _remember_header(self, header_b64: str, checked: tuple[str, str | None]) -> None:
        """Keep a header that passed every check and carried a valid signature, so the next
        token from the same key skips decoding and checking it. Only genuine headers get in,
        and an issuer has a handful, so a small bound suffices."""
        if len(self._headers) >= 64:
            self._headers.clear()
        self._headers[header_b64] = checked

    def _check_header(self, header: Mapping[str, Any]) -> tuple[str, str | None]:
        """JOSE header rules (RFC 7515 §4.1.11, RFC 8725 §3.1/§3.10, RFC 9068 §4);
        returns ``(alg, kid)``."""
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none" or alg.upper().startswith("HS"):
            raise TokenRejected("The token's algorithm is not allowed.")
        if self.algorithms is not None and alg not in self.algorithms:
            raise TokenRejected("The token's algorithm is not allowed.")
        if any(name in header for name in KEY_REFERENCE_HEADERS):
            raise TokenRejected("Tokens may not name their own key (jku, x5u, jwk, x5c).")
        crit = header.get("crit")
        if "crit" in header and (not isinstance(crit, list) or not crit or not all(
                isinstance(name, str) and name in self.understood_crit for name in crit)):
            raise TokenRejected("The token has critical header parameters we do not understand.")
        if self.require_typ:
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
                raise TokenRejected('The token is not an access token (typ must be "at+jwt").')
        kid = header.get("kid")
        if "kid" in header and not isinstance(kid, str):  # null too (RFC 7515 §4.1.4)
            raise TokenRejected('The token\'s "kid" must be a string.')
        return alg, kid

    def _check_claims(self, claims: Mapping[str, Any]) -> int:
        """Registered-claim checks (RFC 7519 §4.1, RFC 9068 §4); returns ``exp``."""
        missing = [name for name in self.required_claims if name not in claims]
        if missing:
            raise TokenRejected(f"The token lacks required claims: {', '.join(missing)}.")
        now = self._clock()
        exp, nbf, iat = (numeric_date(claims, name) for name in ("exp", "nbf", "iat"))
        if exp is None:
            raise TokenRejected('The token has no "exp" claim.')
        if exp <= now - self.leeway:
            raise TokenRejected("The token has expired.")
        if nbf is not None and nbf > now + self.leeway:
            raise TokenRejected("The token is not valid yet.")
        if iat is not None and iat > now + self.leeway:
            raise TokenRejected("The token was issued in the future.")
        check_audience(self.audiences, claims)
        for name in ("sub", "client_id", "jti"):
            if name in claims and not isinstance(claims[name], str):
                raise TokenRejected(f'The "{name}" claim must be a string.')
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise TokenRejected('The "scope" claim must be a space-separated string.')
        policy = claims.get("policy")
        if policy is not None and not isinstance(policy, dict):
            raise TokenRejected('The "policy" claim must be an object.')
        return exp

    def _principal(self, claims: dict[str, Any], exp: int) -> Principal:
        return Principal(
            subject=claims.get("sub", ""),
            backend=self.name,
            client_id=claims.get("client_id"),
            scopes=frozenset(claims.get("scope", "").split()),
            audience=token_audiences(claims.get("aud")) or (),
            claims=MappingProxyType(claims),
            policy=claims.get("policy"),
            expires_at=datetime.fromtimestamp(exp, UTC),
            expiry=Expiry.TOKEN_EXP,
            token_id=claims.get("jti"),
        )
