"""Failed sign-ins counted in the database, so the limit holds across workers and servers.

Each (account, client address) gets one row: a keyed hash of the pair (so the table names
neither who was tried nor from where), the start of its window and the failures in it. A
failure is one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE``, on SQLite and PostgreSQL
alike) that starts a new window once the old one has passed; rows whose window has passed
are deleted on the way, so the table never outgrows the failures of the last window.
With Redis configured, :class:`resource_guard.ratelimit.RateLimiter` on Redis does the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import LoginFailure
from .models.types import UTCDateTime, utcnow
from .secrets import SecretHasher


class FailureLimiter(Protocol):
    """What the login form needs of a limiter (``RateLimiter`` and ``DatabaseLimiter``)."""

    def blocked_for(self, username: str, address: str | None) -> int | None: ...

    def record_failure(self, username: str, address: str | None) -> None: ...


class DatabaseLimiter:
    """Allow ``limit`` failures per ``period`` seconds per (username, address), shared by
    every process on the database; then refuse until the window ends."""

    def __init__(self, hasher: SecretHasher, limit: int, period: int, clock: Callable[[], datetime] = utcnow) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0.")
        self.limit = limit
        self.period = timedelta(seconds=period)
        self._hasher = hasher
        self._clock = clock

    def _key(self, username: str, address: str | None) -> str:
        return self._hasher.hash(f"login-failure\x00{username}\x00{address or ''}")

    def blocked_for(self, username: str, address: str | None) -> int | None:
        """Seconds until this user/address may try again, or None if it may try now."""
        now = self._clock()
        row = db.session.execute(
            select(LoginFailure.window_start, LoginFailure.count).where(
                LoginFailure.key_hash == self._key(username, address)
            )
        ).first()
        if row is None:
            return None
        window_start, failures = row
        ends: datetime = window_start + self.period
        if failures < self.limit or ends <= now:
            return None
        return max(1, math.ceil((ends - now).total_seconds()))

    def record_failure(self, username: str, address: str | None) -> None:
        now = self._clock()
        expired = now - self.period
        table = LoginFailure.__table__
        insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(table).values(key_hash=self._key(username, address), window_start=now, count=1)
        stale = table.c.window_start <= literal(expired, UTCDateTime)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key_hash],
            set_={
                "count": case((stale, 1), else_=table.c.count + 1),
                "window_start": case((stale, literal(now, UTCDateTime)), else_=table.c.window_start),
            },
        )
        db.session.execute(delete(LoginFailure).where(LoginFailure.window_start <= expired))
        db.session.execute(stmt)
        db.session.commit()
