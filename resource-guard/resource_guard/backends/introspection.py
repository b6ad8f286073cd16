"""Bearer tokens checked by asking the authorization server (RFC 7662 token introspection).

Answers are cached under a hash of the token: positive ones until the token's ``exp`` (capped
by ``max_cache_ttl``), negative ones briefly. When the authorization server cannot answer, the
request gets 503 + Retry-After: never accepted, never blamed on the token.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from resource_guard import metrics
from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.cache import Cache, Clock, MemoryCache
from resource_guard.claims import (
    AudienceSetting,
    TokenRejected,
    check_audience,
    configured_audiences,
    numeric_date,
    token_audiences,
)
from resource_guard.errors import InvalidToken, TemporarilyUnavailable
from resource_guard.httpclient import (
    DEFAULT_TIMEOUT,
    Answer,
    FetchError,
    NonFiniteJSON,
    Timeout,
    json_object,
    new_session,
)
from resource_guard.metadata import ServerMetadata
from resource_guard.request import Request
from resource_guard.results import AuthResult, Expiry, Principal

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

_INACTIVE = {"active": False}


#: Answer fields that, when present, must be strings (RFC 7662 §2.2).
_TEXT_FIELDS = ("sub", "username", "client_id", "jti", "token_type")


class IntrospectionBackend(AuthBackend):
    """``Authorization: Bearer <token>`` checked with RFC 7662 introspection.

    Authenticates to the introspection endpoint with ``client_secret_basic`` (RFC 6749
    §2.3.1). ``audience`` is required, as for JWTs: the answer's ``aud`` (a string or a list)
    must name it, or an opaque token issued for another resource server would be accepted
    here; :data:`~resource_guard.claims.ANY_AUDIENCE` opts out. ``cache`` may be a
    :class:`~resource_guard.cache.RedisCache` to share answers between workers.
    """

    www_auth_scheme = "Bearer"
    name = "introspection"

    def __init__(self, issuer: str, client_id: str, client_secret: str, *,
                 audience: AudienceSetting,
                 introspection_endpoint: str | None = None,
                 cache: Cache | None = None, max_cache_ttl: float = 300.0,
                 negative_cache_ttl: float = 10.0,
                 session: requests.Session | None = None, timeout: Timeout = DEFAULT_TIMEOUT,
                 async_client: httpx.AsyncClient | None = None,
                 clock: Clock = time.time, retry_after: int = 30,
                 realm: str = "api", name: str | None = None) -> None:
        """``session`` serves the sync path; ``async_client`` the async one (default: one
        shared client per event loop)."""
        super().__init__(realm=realm, name=name)
        self.issuer = issuer
        #: The accepted audiences; None when configured with ANY_AUDIENCE.
        self.audiences = configured_audiences(audience, type(self).__name__)
        self.max_cache_ttl = max_cache_ttl
        self.negative_cache_ttl = negative_cache_ttl
        self.retry_after = retry_after
        self._clock = clock
        self._cache: Cache = cache if cache is not None else MemoryCache(10_000, clock=clock)
        self._session = session or new_session()
        self._async_client = async_client
        self._timeout = timeout
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
        self._auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
        self._endpoint = introspection_endpoint
        self._metadata = ServerMetadata(issuer, session=self._session, timeout=timeout,
                                        clock=clock, async_client=async_client)

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        token = self.parse_authorization(request, "Bearer")
        if token is None or isinstance(token, AuthResult):
            return token
        return {"token": token}

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        token: str = credentials["token"]
        key = self._cache_key(token)
        answer = self._cache.get(key)
        if answer is None:
            try:
                answer = self.introspect(token)
            except FetchError as exc:
                return self._unavailable(request, exc)
            self._cache.set(key, answer, self._answer_ttl(answer))
        return self._result(request, key, answer)

    async def validate_credentials_async(self, request: Request, credentials: Credentials
                                         ) -> AuthResult:
        """The same checks on an event loop: concurrent requests with the same uncached token
        share one introspection call; a cached answer costs no I/O (in-process cache)."""
        from resource_guard import aio

        token: str = credentials["token"]
        key = self._cache_key(token)
        answer: dict[str, Any] | None = await aio.cache_get(self._cache, key)
        if answer is None:
            try:
                answer = await aio.shared((self, key), lambda: self._introspect_and_cache_async(token, key))
            except FetchError as exc:
                return self._unavailable(request, exc)
        return self._result(request, key, answer)

    async def _introspect_and_cache_async(self, token: str, key: str) -> dict[str, Any]:
        from resource_guard import aio

        answer = await self.introspect_async(token)
        await aio.cache_set(self._cache, key, answer, self._answer_ttl(answer))
        return answer

    @staticmethod
    def _cache_key(token: str) -> str:
        return "introspection:" + hashlib.sha256(token.encode()).hexdigest()

    def _unavailable(self, request: Request, exc: FetchError) -> AuthResult:
        logger.warning("Introspection unavailable (%s); answering 503", exc)
        return self.fail(request, TemporarilyUnavailable(
            "The authorization server could not be reached to check the token; "
            "retry later.", seconds=self.retry_after))

    def _answer_ttl(self, answer: Mapping[str, Any]) -> float:
        """How long to cache a fresh answer: until its ``exp`` when it accepts the token,
        briefly when it does not."""
        try:
            return self._cache_ttl(self.check_answer(answer))
        except TokenRejected:
            return self.negative_cache_ttl

    def _result(self, request: Request, key: str, answer: Mapping[str, Any]) -> AuthResult:
        try:
            exp = self.check_answer(answer)
        except TokenRejected as exc:
            logger.info("Rejected an introspected token (sha256 %s...): %s", key[14:26], exc)
            return self.fail(request, InvalidToken(str(exc)))
        return self.succeed(self._principal(answer, exp))

    def introspect(self, token: str) -> dict[str, Any]:
        """POST the token to the introspection endpoint (RFC 7662 §2.1); FetchError when the
        server cannot be reached or answers anything but a 200 JSON object with ``active``.
        An answer holding NaN or Infinity is not valid JSON about this token: it counts as
        inactive, so the token is refused rather than retried forever."""
        endpoint = self._endpoint or self._metadata.endpoint("introspection_endpoint")
        started = time.perf_counter()
        try:
            response = self._session.post(
                endpoint, data=self._form(token), auth=self._auth, timeout=self._timeout,
                allow_redirects=False, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise FetchError(f"POST {endpoint} failed: {type(exc).__name__}") from None
        finally:
            metrics.introspection(time.perf_counter() - started)
        return self._answer(endpoint, response)

    async def introspect_async(self, token: str) -> dict[str, Any]:
        """:meth:`introspect` on the async client."""
        from resource_guard import aio

        endpoint = self._endpoint or await self._metadata.endpoint_async("introspection_endpoint")
        started = time.perf_counter()
        try:
            response = await aio.post_form(self._async_client, endpoint, self._form(token), self._auth,
                                           self._timeout)
        finally:
            metrics.introspection(time.perf_counter() - started)
        return self._answer(endpoint, response)

    @staticmethod
    def _form(token: str) -> dict[str, str]:
        return {"token": token, "token_type_hint": "access_token"}

    @staticmethod
    def _answer(endpoint: str, response: Answer) -> dict[str, Any]:
        try:
            answer = json_object(response)
        except NonFiniteJSON as exc:
            logger.warning("Refusing a token: %s", exc)
            return dict(_INACTIVE)
        if not isinstance(answer.get("active"), bool):
            raise FetchError(f"{endpoint} answered without a boolean \"active\"")
        return answer if answer["active"] else dict(_INACTIVE)

    def _cache_ttl(self, exp: int | None) -> float:
        """RFC 7662 §4: never cache past ``exp``; cap at ``max_cache_ttl``."""
        return self.max_cache_ttl if exp is None else min(self.max_cache_ttl, exp - self._clock())

    def check_answer(self, answer: Mapping[str, Any]) -> int | None:
        """Raise TokenRejected unless ``answer`` accepts the token for this resource server;
        return its ``exp`` (RFC 7662 §2.2: every field but ``active`` is optional, but one that
        is present must be well-formed)."""
        if not answer.get("active"):
            raise TokenRejected("The access token is invalid, expired or revoked.")
        exp, nbf, _ = (numeric_date(answer, name) for name in ("exp", "nbf", "iat"))
        now = self._clock()
        if exp is not None and exp <= now:
            raise TokenRejected("The access token has expired.")
        if nbf is not None and nbf > now:
            raise TokenRejected("The access token is not valid yet.")
        if "iss" in answer and answer["iss"] != self.issuer:
            raise TokenRejected("The token was not issued by a trusted issuer.")
        if answer.get("token_type") == "refresh_token":
            raise TokenRejected("A refresh token cannot be used as an access token.")
        check_audience(self.audiences, answer)
        for name in _TEXT_FIELDS:
            if name in answer and not isinstance(answer[name], str):
                raise TokenRejected(f'The token\'s "{name}" is malformed.')
        if not isinstance(answer.get("scope", ""), str):
            raise TokenRejected("The token's scope is malformed.")
        if "policy" in answer and not isinstance(answer["policy"], dict):
            raise TokenRejected("The token's policy is malformed.")
        return exp

    def _principal(self, answer: Mapping[str, Any], exp: int | None) -> Principal:
        return Principal(
            subject=answer.get("sub") or answer.get("username") or "",
            backend=self.name,
            client_id=answer.get("client_id"),
            scopes=frozenset(answer.get("scope", "").split()),
            audience=token_audiences(answer.get("aud")) or (),
            claims=MappingProxyType(dict(answer)),
            policy=answer.get("policy"),
            expires_at=datetime.fromtimestamp(exp, UTC) if exp is not None else None,
            expiry=Expiry.TOKEN_EXP,
            token_id=answer.get("jti"),
        )
