"""Legacy API tokens: ``Authorization: token <t>`` (Djblets ``WebAPITokenAuthBackend``).

Tokens are looked up through an :class:`APITokenStore` the application provides, so a resource
server can check tokens wherever they live. The token format (prefix + checksum) is checked
first, so junk never reaches the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol

from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.cache import Cache, Clock, MemoryCache
from resource_guard.errors import InvalidToken
from resource_guard.request import Request
from resource_guard.results import AuthResult, Expiry, Principal
from resource_guard.scrub import scrubbed_traceback
from resource_guard.tokens import check_token_format

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class APITokenRecord:
    """What a store knows about one API token.

    Datetimes should be timezone-aware (naive ones are taken as UTC). ``claims`` is extra
    information about the user (e.g. ``{"username": "alice"}``) copied to the principal.
    """

    id: str
    subject: str
    expires: datetime | None = None
    valid: bool = True
    invalid_date: datetime | None = None
    invalid_reason: str = ""
    policy: Mapping[str, Any] | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)


class APITokenStore(Protocol):
    """Where API tokens live. authserver implements this over its database."""

    def lookup(self, token: str) -> APITokenRecord | None:
        """The record for ``token`` (compare hashes in constant time), or None if unknown."""

    def touch_last_used(self, token_id: str, when: datetime) -> None:
        """Record that the token was used at ``when`` (called at most once per interval)."""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _display(value: datetime) -> str:
    return _utc(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class APITokenBackend(AuthBackend):
    """``Authorization: token <t>``; ``keyword`` is matched case-insensitively, so DRF's
    ``Token`` works too. ``prefixes`` limits which token prefixes are accepted (None: any).

    ``last_used`` is recorded at most once per ``touch_interval`` seconds per token (per
    process, or across workers when ``touch_cache`` is shared), not on every request.
    """

    name = "api_token"

    def __init__(self, store: APITokenStore, *, keyword: str = "token",
                 prefixes: Iterable[str] | None = None, touch_interval: float = 300.0,
                 touch_cache: Cache | None = None, clock: Clock = time.time,
                 realm: str = "api", name: str | None = None) -> None:
        super().__init__(realm=realm, name=name)
        self.store = store
        self.keyword = keyword
        self.www_auth_scheme = keyword[:1].upper() + keyword[1:]
        self.prefixes = frozenset(prefixes) if prefixes is not None else None
        self.touch_interval = touch_interval
        self._touched: Cache = (touch_cache if touch_cache is not None
                                else MemoryCache(100_000, clock=clock))
        self._clock = clock

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        token = self.parse_authorization(request, self.keyword)
        if token is None or isinstance(token, AuthResult):
            return token
        return {"token": token}

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        token: str = credentials["token"]
        if not check_token_format(token, self.prefixes):
            return self.fail(request, InvalidToken(
                "Invalid API token: it is malformed or mistyped (bad checksum)."))
        record = self.store.lookup(token)
        if record is None:
            return self.fail(request, InvalidToken("Invalid API token."))
        now = datetime.fromtimestamp(self._clock(), UTC)
        if record.expires is not None and _utc(record.expires) <= now:
            return self.fail(request, InvalidToken(
                f"This API token expired on {_display(record.expires)}."))
        if not record.valid:
            when = _display(record.invalid_date) if record.invalid_date else "an unknown date"
            return self.fail(request, InvalidToken(
                f"This API token became invalid on {when}: "
                f"{record.invalid_reason or 'no reason was given.'}"))
        self._touch(record.id, now, token)
        return self.succeed(Principal(
            subject=record.subject, backend=self.name, scopes=None,
            claims=MappingProxyType(dict(record.claims)), policy=record.policy,
            expires_at=_utc(record.expires) if record.expires else None,
            expiry=Expiry.API_TOKEN_EXPIRES if record.expires else Expiry.NONE,
            token_id=record.id))

    def _touch(self, token_id: str, now: datetime, token: str) -> None:
        """Record use at most once per interval; a failure to record never fails the request."""
        key = f"touched:{token_id}"
        if self._touched.get(key) is not None:
            return
        self._touched.set(key, 1, self.touch_interval)
        try:
            self.store.touch_last_used(token_id, now)
        except Exception as exc:
            logger.warning("Could not record last use of API token %s\n%s", token_id,
                           scrubbed_traceback(exc, [token]))
