"""Bearer tokens checked by asking the authorization server (RFC 7662 token introspection).

Answers are cached under a hash of the token: positive ones until the token's ``exp`` (capped
by ``max_cache_ttl``), negative ones briefly. When the authorization server cannot answer, the
request gets 503 + Retry-After: never accepted, never blamed on the token.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import requests

from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.cache import Cache, Clock, MemoryCache
from resource_guard.errors import InvalidToken, TemporarilyUnavailable
from resource_guard.httpclient import DEFAULT_TIMEOUT, FetchError, Timeout, json_object, new_session
from resource_guard.metadata import ServerMetadata
from resource_guard.request import Request
from resource_guard.results import AuthResult, Expiry, Principal

logger = logging.getLogger(__name__)

_INACTIVE = {"active": False}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class IntrospectionBackend(AuthBackend):
    """``Authorization: Bearer <token>`` checked with RFC 7662 introspection.

    Authenticates to the introspection endpoint with ``client_secret_basic`` (RFC 6749
    §2.3.1). If ``audience`` is given, the response's ``aud`` must contain it. ``cache`` may be
    a :class:`~resource_guard.cache.RedisCache` to share answers between workers.
    """

    www_auth_scheme = "Bearer"
    name = "introspection"

    def __init__(self, issuer: str, client_id: str, client_secret: str, *,
                 audience: str | Iterable[str] | None = None,
                 introspection_endpoint: str | None = None,
                 cache: Cache | None = None, max_cache_ttl: float = 300.0,
                 negative_cache_ttl: float = 10.0,
                 session: requests.Session | None = None, timeout: Timeout = DEFAULT_TIMEOUT,
                 clock: Clock = time.time, retry_after: int = 30,
                 realm: str = "api", name: str | None = None) -> None:
        super().__init__(realm=realm, name=name)
        self.issuer = issuer
        self.audiences = (frozenset([audience]) if isinstance(audience, str)
                          else frozenset(audience) if audience is not None else None)
        self.max_cache_ttl = max_cache_ttl
        self.negative_cache_ttl = negative_cache_ttl
        self.retry_after = retry_after
        self._clock = clock
        self._cache: Cache = cache if cache is not None else MemoryCache(10_000, clock=clock)
        self._session = session or new_session()
        self._timeout = timeout
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
        self._auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
        self._endpoint = introspection_endpoint
        self._metadata = ServerMetadata(issuer, session=self._session, timeout=timeout,
                                        clock=clock)

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        token = self.parse_authorization(request, "Bearer")
        if token is None or isinstance(token, AuthResult):
            return token
        return {"token": token}

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        token: str = credentials["token"]
        key = "introspection:" + hashlib.sha256(token.encode()).hexdigest()
        answer = self._cache.get(key)
        if answer is None:
            try:
                answer = self.introspect(token)
            except FetchError as exc:
                logger.warning("Introspection unavailable (%s); answering 503", exc)
                return self.fail(request, TemporarilyUnavailable(
                    "The authorization server could not be reached to check the token; "
                    "retry later.", seconds=self.retry_after))
            self._cache.set(key, answer, self._cache_ttl(answer))
        reason = self._reason_to_reject(answer)
        if reason is not None:
            logger.info("Rejected an introspected token (sha256 %s...): %s", key[14:26], reason)
            return self.fail(request, InvalidToken(reason))
        return self.succeed(self._principal(answer))

    def introspect(self, token: str) -> dict[str, Any]:
        """POST the token to the introspection endpoint (RFC 7662 §2.1); FetchError when the
        server cannot be reached or answers anything but a 200 JSON object with ``active``."""
        endpoint = self._endpoint or self._metadata.endpoint("introspection_endpoint")
        try:
            response = self._session.post(
                endpoint, data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth, timeout=self._timeout, allow_redirects=False,
                headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise FetchError(f"POST {endpoint} failed: {type(exc).__name__}") from None
        answer = json_object(response)
        if not isinstance(answer.get("active"), bool):
            raise FetchError(f"{endpoint} answered without a boolean \"active\"")
        return answer if answer["active"] else dict(_INACTIVE)

    def _cache_ttl(self, answer: Mapping[str, Any]) -> float:
        """RFC 7662 §4: never cache past ``exp``; cap at ``max_cache_ttl``."""
        if not answer.get("active"):
            return self.negative_cache_ttl
        exp = answer.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return min(self.max_cache_ttl, exp - self._clock())
        return self.max_cache_ttl

    def _reason_to_reject(self, answer: Mapping[str, Any]) -> str | None:
        if not answer.get("active"):
            return "The access token is invalid, expired or revoked."
        exp = answer.get("exp")
        if isinstance(exp, int | float) and exp <= self._clock():
            return "The access token has expired."
        if "iss" in answer and answer["iss"] != self.issuer:
            return "The token was not issued by a trusted issuer."
        if answer.get("token_type") == "refresh_token":
            return "A refresh token cannot be used as an access token."
        if self.audiences is not None:
            aud = answer.get("aud")
            audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if not self.audiences.intersection(audiences):
                return "The token is not intended for this resource server."
        if not isinstance(answer.get("scope", ""), str):
            return "The token's scope is malformed."
        if "policy" in answer and not isinstance(answer["policy"], dict):
            return "The token's policy is malformed."
        return None

    def _principal(self, answer: Mapping[str, Any]) -> Principal:
        aud = answer.get("aud")
        exp = answer.get("exp")
        return Principal(
            subject=str(answer.get("sub") or answer.get("username") or ""),
            backend=self.name,
            client_id=_text(answer.get("client_id")),
            scopes=frozenset(answer.get("scope", "").split()),
            audience=((aud,) if isinstance(aud, str) else
                      tuple(a for a in aud if isinstance(a, str)) if isinstance(aud, list)
                      else ()),
            claims=MappingProxyType(dict(answer)),
            policy=answer.get("policy"),
            expires_at=(datetime.fromtimestamp(exp, UTC)
                        if isinstance(exp, int | float) and not isinstance(exp, bool) else None),
            expiry=Expiry.TOKEN_EXP,
            token_id=_text(answer.get("jti")),
        )
