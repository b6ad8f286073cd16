"""Authentication and authorization errors, and their one mapping to HTTP.

Each error type names an RFC 6750 §3.1 condition (or one of the operational conditions a
resource server must also report: rate limiting, an unreachable authorization server). The
status code, the JSON body and the ``WWW-Authenticate`` challenge are derived here and nowhere
else, as DRF's ``authenticate_header`` keeps the 401-vs-403 rule in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

#: Error codes RFC 6750 §3.1 defines for the ``error`` parameter of a Bearer challenge.
RFC6750_CODES = frozenset({"invalid_request", "invalid_token", "insufficient_scope"})

# RFC 6750 §3: error_description and scope values are limited to %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE_PARAM_CHARS_RE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')


@dataclass(frozen=True, slots=True)
class AuthError:
    """Why a request was refused, in words the client can act on."""

    description: str
    status: ClassVar[int] = 401
    code: ClassVar[str] = "authentication_required"

    @property
    def retry_after(self) -> int | None:
        """Seconds the client should wait before retrying, when that is known."""
        return None

    @property
    def scope(self) -> str | None:
        """The scope the request needed (RFC 6750 §3 ``scope`` attribute), if any."""
        return None

    def to_json(self) -> dict[str, str]:
        """The response body: ``{"error": ..., "error_description": ...}`` (and ``scope``)."""
        body = {"error": self.code, "error_description": self.description}
        if self.scope:
            body["scope"] = self.scope
        return body


@dataclass(frozen=True, slots=True)
class AuthenticationRequired(AuthError):
    """No credentials were sent: RFC 6750 §3.1 says the challenge carries no error code.

    ``needed_scope`` names what the endpoint needs (RFC 6750 §3 allows ``scope`` without an
    error), so a client can ask for the right token at once (the MCP authorization flow).
    """

    description: str = "Authentication credentials were not provided."
    needed_scope: str = ""

    @property
    def scope(self) -> str | None:
        return self.needed_scope or None


@dataclass(frozen=True, slots=True)
class InvalidRequest(AuthError):
    """Malformed credentials or a token sent where tokens are refused (RFC 6750 §3.1)."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid_request"


@dataclass(frozen=True, slots=True)
class InvalidToken(AuthError):
    """The token is expired, revoked, malformed or not for us (RFC 6750 §3.1)."""

    code: ClassVar[str] = "invalid_token"


@dataclass(frozen=True, slots=True)
class InvalidCredentials(AuthError):
    """A username/password pair was refused (RFC 7617 has no error codes, so none is sent)."""

    code: ClassVar[str] = "invalid_credentials"


@dataclass(frozen=True, slots=True)
class InsufficientScope(AuthError):
    """The credentials are valid but do not allow this request (RFC 6750 §3.1): 403.

    ``needed_scope`` is the space-separated scope that would have been enough; it is empty when
    the refusal comes from an API-token policy rather than from scopes.
    """

    needed_scope: str = ""
    status: ClassVar[int] = 403
    code: ClassVar[str] = "insufficient_scope"

    @property
    def scope(self) -> str | None:
        return self.needed_scope or None


@dataclass(frozen=True, slots=True)
class TooManyAttempts(AuthError):
    """Too many failed logins for this user and address (RFC 6585 §4): 429 + Retry-After."""

    seconds: int = 60
    status: ClassVar[int] = 429
    code: ClassVar[str] = "too_many_requests"

    @property
    def retry_after(self) -> int | None:
        return self.seconds


@dataclass(frozen=True, slots=True)
class TemporarilyUnavailable(AuthError):
    """The credentials could not be checked (authorization server or store unreachable).

    Answered with 503 + Retry-After (RFC 9110 §15.6.4): the request is neither accepted nor
    blamed on the token, so clients retry instead of discarding a good token.
    """

    seconds: int = 30
    status: ClassVar[int] = 503
    code: ClassVar[str] = "temporarily_unavailable"

    @property
    def retry_after(self) -> int | None:
        return self.seconds


def quote_param(value: str) -> str:
    """Make ``value`` safe inside a quoted challenge parameter (RFC 6750 §3)."""
    return _UNSAFE_PARAM_CHARS_RE.sub(" ", value)


def challenge(scheme: str, realm: str, error: AuthError | None, *,
              with_error_params: bool) -> str:
    """Build a ``WWW-Authenticate`` value (RFC 7235 §4.1, RFC 6750 §3).

    The ``error``/``error_description`` parameters are added only for the RFC 6750 codes, and
    they and ``scope`` only for schemes that understand them (Bearer and its token-style
    relatives).
    """
    params = [f'realm="{quote_param(realm)}"']
    if with_error_params and error is not None:
        if error.code in RFC6750_CODES:
            params.append(f'error="{error.code}"')
            params.append(f'error_description="{quote_param(error.description)}"')
        if error.scope:
            params.append(f'scope="{quote_param(error.scope)}"')
    return f"{scheme} {', '.join(params)}"
