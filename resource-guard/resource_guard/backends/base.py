"""The backend base class: the Djblets ``WebAPIAuthBackend`` shape with typed results.

A backend splits its work into small steps a subclass overrides one at a time:
:meth:`~AuthBackend.get_credentials` (read the request; ``None`` = not mine),
:meth:`~AuthBackend.validate_credentials` (decide), and :meth:`~AuthBackend.get_auth_headers`
(the challenge). :meth:`~AuthBackend.clean_credentials_for_display` keeps logs free of secrets.

On an event loop, :meth:`~AuthBackend.authenticate_async` runs the same steps; only
:meth:`~AuthBackend.validate_credentials_async` differs, and only in where the waiting happens:
by default the sync check runs on a bounded worker thread (stores and password hashes block),
and backends that fetch over HTTP override it to await their async client instead.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from resource_guard.errors import AuthError, InvalidRequest, challenge
from resource_guard.request import Request
from resource_guard.results import AuthResult, Principal
from resource_guard.scrub import MASK, SENSITIVE_CREDENTIALS_RE

#: Credentials a backend extracted from a request, by name (Djblets' ``WebAPICredentials``).
Credentials = dict[str, Any]

#: The result of :meth:`AuthBackend.get_credentials`: credentials, a failure (malformed
#: header), or ``None`` when the request carries nothing for this backend.
GetCredentialsResult = Credentials | AuthResult | None


class AuthBackend(ABC):
    """One way of authenticating a request.

    Subclasses set ``www_auth_scheme`` and implement ``get_credentials`` and
    ``validate_credentials``. ``name`` identifies the backend in :class:`Principal.backend`.
    """

    #: The scheme named in ``WWW-Authenticate`` (and read from ``Authorization``).
    www_auth_scheme: str
    name: str = "base"
    #: Whether the challenge may carry RFC 6750 ``error`` parameters (Basic's may not).
    challenge_error_params: ClassVar[bool] = True

    #: Credential names that must never be logged (Djblets' pattern, any case).
    SENSITIVE_CREDENTIALS_RE: ClassVar[re.Pattern[str]] = SENSITIVE_CREDENTIALS_RE

    def __init__(self, *, realm: str = "api", name: str | None = None) -> None:
        self.realm = realm
        if name is not None:
            self.name = name

    def authenticate(self, request: Request) -> AuthResult | None:
        """Authenticate ``request``: ``None`` if it is not for this backend, else a result."""
        credentials = self.get_credentials(request)
        if credentials is None or isinstance(credentials, AuthResult):
            return credentials
        return self.validate_credentials(request, credentials)

    async def authenticate_async(self, request: Request) -> AuthResult | None:
        """:meth:`authenticate` on an event loop, never blocking it."""
        credentials = self.get_credentials(request)
        if credentials is None or isinstance(credentials, AuthResult):
            return credentials
        return await self.validate_credentials_async(request, credentials)

    async def validate_credentials_async(self, request: Request, credentials: Credentials
                                         ) -> AuthResult:
        """:meth:`validate_credentials` on a worker thread (at most
        :data:`resource_guard.aio.THREAD_LIMIT` at once), so a blocking store leaves the loop
        free. A backend whose check neither blocks nor fetches may call it inline instead."""
        from resource_guard import aio

        return await aio.run_sync(self.validate_credentials, request, credentials)

    @abstractmethod
    def get_credentials(self, request: Request) -> GetCredentialsResult:
        """Extract this backend's credentials, or ``None`` when the request has none."""

    @abstractmethod
    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        """Check the credentials and return a success or a failure."""

    def get_auth_headers(self, request: Request, error: AuthError | None = None
                         ) -> dict[str, str]:
        """Response headers for a refusal: the challenge (RFC 7235 §4.1) and ``Retry-After``."""
        headers: dict[str, str] = {}
        if error is None or error.status in (400, 401, 403):
            headers["WWW-Authenticate"] = challenge(
                self.www_auth_scheme, self.realm, error,
                with_error_params=self.challenge_error_params)
        if error is not None and error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return headers

    def fail(self, request: Request, error: AuthError) -> AuthResult:
        """A failure carrying this backend's headers for ``error``."""
        return AuthResult.failure(error, self.get_auth_headers(request, error))

    def succeed(self, principal: Principal) -> AuthResult:
        """A success for ``principal``."""
        return AuthResult.success(principal)

    @classmethod
    def clean_credentials_for_display(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``credentials`` safe for logs: sensitive values masked (Djblets)."""
        return {key: (MASK if cls.SENSITIVE_CREDENTIALS_RE.search(key) else value)
                for key, value in credentials.items()}

    def parse_authorization(self, request: Request, keyword: str) -> str | AuthResult | None:
        """Read ``Authorization: <keyword> <value>`` (scheme matched case-insensitively,
        RFC 9110 §11.1). ``None`` when another scheme (or none) is used; a 400 failure for a
        header that names our scheme but is malformed, with DRF's actionable messages."""
        header = request.authorization
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != keyword.lower():
            return None
        if len(parts) == 1:
            return self.fail(request, InvalidRequest(
                f"Invalid {keyword} header. No credentials provided."))
        if len(parts) > 2:
            return self.fail(request, InvalidRequest(
                f"Invalid {keyword} header. Credentials string should not contain spaces."))
        return parts[1]
