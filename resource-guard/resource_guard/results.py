"""What authentication produces: a :class:`Principal`, wrapped in an :class:`AuthResult`.

Typed values replace Djblets' ``(bool, message, headers)`` tuples: a backend returns ``None``
("not mine"), ``AuthResult.success(principal)`` or ``AuthResult.failure(error, headers)``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from resource_guard.errors import AuthError

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Expiry(enum.StrEnum):
    """How a principal's credentials stop being valid."""

    TOKEN_EXP = "token_exp"              # the access token's ``exp`` (JWT claim or introspection)
    API_TOKEN_EXPIRES = "api_token"      # the legacy API token's expiry date
    NONE = "none"                        # never (a username/password checked per request)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made the request and what they may do.

    ``scopes`` is ``None`` when the principal is not limited by scopes (a Basic user, a legacy
    API token); an OAuth token always has a set, possibly empty. ``policy`` is a Review Board
    policy document (see :mod:`resource_guard.policy`) or ``None``. ``claims`` holds the JWT
    claims or the introspection response, read-only.
    """

    subject: str
    backend: str
    client_id: str | None = None
    scopes: frozenset[str] | None = None
    audience: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    policy: Mapping[str, Any] | None = None
    expires_at: datetime | None = None
    expiry: Expiry = Expiry.NONE
    token_id: str | None = None

    def has_scopes(self, required: frozenset[str]) -> bool:
        """Whether every scope in ``required`` is granted (always true when not scope-limited)."""
        return self.scopes is None or required <= self.scopes


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The outcome of a backend or of the whole guard.

    Exactly one of three states: success (``principal`` set), failure (``error`` set, with the
    response ``headers``), or anonymous (neither; only the guard returns that).
    """

    principal: Principal | None = None
    error: AuthError | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def success(cls, principal: Principal) -> AuthResult:
        return cls(principal=principal)

    @classmethod
    def failure(cls, error: AuthError, headers: Mapping[str, str]) -> AuthResult:
        return cls(error=error, headers=headers)

    @property
    def ok(self) -> bool:
        """True for a success or an anonymous result the endpoint accepted."""
        return self.error is None

    @property
    def status(self) -> int:
        """The HTTP status to answer with (200 when ok)."""
        return 200 if self.error is None else self.error.status
