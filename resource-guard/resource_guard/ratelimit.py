"""Failed-login rate limiting per (user, client address), as Djblets' ``auth.ratelimit``.

Counts live in a :class:`~resource_guard.cache.Cache`: in-process by default, or Redis so that
all workers share one budget (otherwise the limit is per worker).

:meth:`RateLimiter.reserve` counts an attempt before the password is checked, in one atomic
step, and :meth:`RateLimiter.release` gives it back when the password was right; so a burst
of simultaneous guesses gets exactly ``limit`` passwords checked, never more.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata

from resource_guard.cache import Cache, Clock, MemoryCache


def caseless(username: str) -> str:
    """NFKC then case-folded (Unicode's identifier caseless match), so ``Alice``, ``ALICE``
    and its full-width form compare equal."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


class RateLimiter:
    """Allow ``limit`` failures per ``period`` seconds per key; then refuse until it ends."""

    def __init__(self, limit: int = 5, period: float = 60.0, *, cache: Cache | None = None,
                 clock: Clock = time.time) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0.")
        self.limit = limit
        self.period = period
        self._cache: Cache = cache if cache is not None else MemoryCache(100_000, clock=clock)

    @staticmethod
    def _key(username: str, address: str | None) -> str:
        # Caseless: where "Alice" and "alice" are one account, they must not be two budgets.
        raw = f"{caseless(username)}\x00{address or ''}".encode()
        return "ratelimit:" + hashlib.sha256(raw).hexdigest()

    def reserve(self, username: str, address: str | None) -> int | None:
        """Count an attempt before its password is checked: None if it may go ahead, else the
        seconds until one may (a refused attempt is not counted)."""
        wait = self._cache.reserve(self._key(username, address), self.period, self.limit)
        return None if wait is None else max(1, math.ceil(wait))

    def release(self, username: str, address: str | None) -> None:
        """Give back the attempt :meth:`reserve` counted, once it turned out to be right."""
        self._cache.release(self._key(username, address))

