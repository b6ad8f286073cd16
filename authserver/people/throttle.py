"""Failed sign-ins counted in the database, so the limit holds across workers and servers.
(The same limiter, with its own table and ``purpose``, counts RFC 7591 registrations per
client address.)

Each (account, client address) gets one row: a keyed hash of the pair (so the table names
neither who was tried nor from where), the start of its window and the attempts in it. An
attempt is counted before its password is checked by one atomic upsert (``INSERT ... ON
CONFLICT DO UPDATE ... RETURNING``, on SQLite and PostgreSQL alike) that starts a new window
once the old one has passed, and given back when the password was right; rows whose window
has passed are deleted on the way, so the table never outgrows the failures of the last window.
With Redis configured, :class:`resource_guard.ratelimit.RateLimiter` on Redis does the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import case, delete, literal, update

from ..database import conflict_insert
from ..extensions import db
from ..models import LoginFailure
from ..models.login_failures import CountedWindow
from ..models.types import UTCDateTime, utcnow
from ..secrets import SecretHasher

LOGIN = "login-failure"


class FailureLimiter(Protocol):
    """What the login form needs of a limiter (``RateLimiter`` and ``DatabaseLimiter``).

    An attempt is reserved before its password is checked, atomically, so simultaneous
    guesses cannot all pass one check before any is counted; a right password gives its
    reservation back, so signing in does not spend the budget.
    """

    def reserve(self, username: str, address: str | None) -> int | None:
        """None if this attempt may check its password (it is now counted), else the seconds
        until one may (and nothing is counted)."""

    def release(self, username: str, address: str | None) -> None:
        """Give back the attempt :meth:`reserve` counted: its password was right."""


class DatabaseLimiter:
    """Allow ``limit`` failures per ``period`` seconds per (username, address), shared by
    every process on the database; then refuse until the window ends."""

    def __init__(self, hasher: SecretHasher, limit: int, period: int, clock: Callable[[], datetime] = utcnow, *,
                 model: type[CountedWindow] = LoginFailure, purpose: str = LOGIN) -> None:
        """``model`` is the table of this limiter's windows (one table per window length:
        each limiter deletes the rows its own window has passed); ``purpose`` keys it."""
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0.")
        self.limit = limit
        self.period = timedelta(seconds=period)
        self._hasher = hasher
        self._clock = clock
        self._model = model
        self._purpose = purpose

    def _key(self, username: str, address: str | None) -> str:
        return self._hasher.hash(f"{self._purpose}\x00{username}\x00{address or ''}")

    def reserve(self, username: str, address: str | None) -> int | None:
        """Count the attempt with one upsert that returns the new count. The upsert holds the
        row (PostgreSQL's row lock, SQLite's write lock) until the commit, so concurrent
        attempts are counted one after another; one over the limit is taken back before the
        commit, and nobody ever sees it."""
        now = self._clock()
        expired = now - self.period
        model = self._model
        table = model.__table__
        key = self._key(username, address)
        stale = table.c.window_start <= literal(expired, UTCDateTime)
        stmt = (
            conflict_insert(table, db.engine.dialect.name)
            .values(key_hash=key, window_start=now, count=1)
            .on_conflict_do_update(
                index_elements=[table.c.key_hash],
                set_={
                    "count": case((stale, 1), else_=table.c.count + 1),
                    "window_start": case((stale, literal(now, UTCDateTime)), else_=table.c.window_start),
                },
            )
            .returning(table.c.count, table.c.window_start)
        )
        db.session.execute(delete(model).where(model.window_start <= expired))
        row = db.session.execute(stmt).one()
        count: int = row[0]
        window_start: datetime = row[1]
        if count <= self.limit:
            db.session.commit()
            return None
        db.session.rollback()  # over the limit: this attempt is not counted
        # ``now`` was read before the row's lock was ours: another attempt may have started
        # the window a moment later, so the wait is capped at one period.
        left = (window_start + self.period - now).total_seconds()
        return max(1, min(math.ceil(left), math.ceil(self.period.total_seconds())))

    def release(self, username: str, address: str | None) -> None:
        expired = self._clock() - self.period
        model = self._model
        db.session.execute(
            update(model)
            .where(model.key_hash == self._key(username, address), model.count > 0, model.window_start > expired)
            .values(count=model.count - 1)
        )
        db.session.commit()
