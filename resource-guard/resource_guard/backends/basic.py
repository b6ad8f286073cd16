"""HTTP Basic authentication (RFC 7617) through a pluggable password verifier.

Failed attempts are counted per (username, client address); past the limit (Djblets' default:
5 per minute) the backend answers 429 with Retry-After without checking the password, so a
guessing attack gets no signal and costs no password hashing.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.cache import Cache, Clock
from resource_guard.errors import AuthError, InvalidCredentials, InvalidRequest, TooManyAttempts
from resource_guard.ratelimit import RateLimiter
from resource_guard.request import Request
from resource_guard.results import AuthResult, Expiry, Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VerifiedUser:
    """Who a username/password pair belongs to. ``claims`` is copied to the principal."""

    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)


class PasswordVerifier(Protocol):
    """Checks passwords. authserver implements this over its user table."""

    def verify(self, username: str, password: str) -> VerifiedUser | None:
        """The user if the password is right (compare in constant time), else None."""


class BasicAuthBackend(AuthBackend):
    """``Authorization: Basic base64(user:password)``. The principal is the user itself, so it
    is not limited by scopes (``scopes=None``)."""

    www_auth_scheme = "Basic"
    name = "basic"
    challenge_error_params = False  # RFC 7617 §2 defines only realm and charset

    def __init__(self, verifier: PasswordVerifier, *, max_failures: int = 5,
                 failure_window: float = 60.0, rate_limit_cache: Cache | None = None,
                 clock: Clock = time.time, realm: str = "api",
                 name: str | None = None) -> None:
        super().__init__(realm=realm, name=name)
        self.verifier = verifier
        self.limiter = RateLimiter(max_failures, failure_window, cache=rate_limit_cache,
                                   clock=clock)

    def get_auth_headers(self, request: Request, error: AuthError | None = None
                         ) -> dict[str, str]:
        headers = super().get_auth_headers(request, error)
        if "WWW-Authenticate" in headers:
            headers["WWW-Authenticate"] += ', charset="UTF-8"'  # RFC 7617 §2.1
        return headers

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        encoded = self.parse_authorization(request, "Basic")
        if encoded is None or isinstance(encoded, AuthResult):
            return encoded
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return self.fail(request, InvalidRequest(
                "Invalid basic header. Credentials not correctly base64 encoded."))
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            return self.fail(request, InvalidRequest(
                "Invalid basic header. Send base64 of username:password."))
        return {"username": username, "password": password}

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        username: str = credentials["username"]
        address = request.remote_addr
        # The attempt is counted before the password is checked (and given back if it is
        # right), so simultaneous guesses cannot all slip in before one is counted.
        wait = self.limiter.reserve(username, address)
        if wait is not None:
            logger.warning("Too many failed logins: %s from %s",
                           self.clean_credentials_for_display(credentials), address)
            return self.fail(request, TooManyAttempts(
                f"Too many failed login attempts. Try again in {wait} seconds.", seconds=wait))
        user = self.verifier.verify(username, credentials["password"])
        if user is None:
            logger.info("Failed login: %s from %s",
                        self.clean_credentials_for_display(credentials), address)
            return self.fail(request, InvalidCredentials("Invalid username or password."))
        self.limiter.release(username, address)
        return self.succeed(Principal(
            subject=user.subject, backend=self.name, scopes=None,
            claims=MappingProxyType(dict(user.claims)), expiry=Expiry.NONE))
