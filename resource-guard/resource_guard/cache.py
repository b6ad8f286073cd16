"""Caches for verified tokens, introspection results and rate-limit counters.

:class:`MemoryCache` is a bounded, per-process LRU with per-entry expiry. :class:`RedisCache`
shares entries between the workers of a resource server; ``redis`` is imported only when one
is created. Callers pass keys that are already hashes of any secret, never a token itself.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Clock = Callable[[], float]


class Cache(Protocol):
    """What the backends need from a cache. Values must be JSON-serialisable for Redis."""

    def get(self, key: str) -> Any | None:
        """The live value for ``key``, or None."""

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds (nothing is stored when ``ttl`` is not a
        positive finite number)."""

    def incr(self, key: str, window: float) -> tuple[int, float]:
        """Count a hit in a fixed window that starts with the first hit; return the count so
        far and the seconds until the window ends."""

    def count(self, key: str) -> tuple[int, float]:
        """The current window's count and seconds left, without counting a hit."""

    def reserve(self, key: str, window: float, limit: int) -> float | None:
        """Atomically count a hit if fewer than ``limit`` are counted in the current window
        (which starts with the first hit) and return None; otherwise count nothing and return
        the seconds until the window ends. Check-and-count in one step, so concurrent callers
        can never get more than ``limit`` hits through."""

    def release(self, key: str) -> None:
        """Take back one hit counted in the current window (nothing once it has ended)."""


class MemoryCache:
    """A thread-safe LRU of at most ``max_entries`` entries, each expiring on its own.

    A hit costs one dict lookup and one clock read, which is what keeps a cached bearer token
    cheap; expired entries are dropped when met, and the LRU bound caps memory under a flood
    of distinct tokens.
    """

    def __init__(self, max_entries: int = 10_000, *, clock: Clock = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1.")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        self.set_until(key, value, self._clock() + ttl)

    def set_until(self, key: str, value: Any, expires_at: float) -> None:
        """Store ``value`` until the absolute time ``expires_at`` (e.g. a token's ``exp``);
        nothing is stored for a time already past or not a finite number."""
        with self._lock:
            if not self._clock() < expires_at < math.inf:
                self._entries.pop(key, None)
                return
            self._entries[key] = (expires_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def incr(self, key: str, window: float) -> tuple[int, float]:
        with self._lock:
            return self._incr(key, window, self._clock())

    def count(self, key: str) -> tuple[int, float]:
        with self._lock:
            return self._count(key, self._clock())

    def reserve(self, key: str, window: float, limit: int) -> float | None:
        with self._lock:  # the check and the count under one lock: no caller slips between
            now = self._clock()
            count, remaining = self._count(key, now)
            if count >= limit:
                return remaining
            self._incr(key, window, now)
            return None

    def release(self, key: str) -> None:
        with self._lock:
            count, _ = self._count(key, self._clock())
            if count > 0:
                expires_at = self._entries[key][0]
                self._entries[key] = (expires_at, count - 1)

    def _count(self, key: str, now: float) -> tuple[int, float]:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return 0, 0.0
        return entry[1], entry[0] - now

    def _incr(self, key: str, window: float, now: float) -> tuple[int, float]:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            entry = (now + window, 0)
        entry = (entry[0], entry[1] + 1)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return entry[1], entry[0] - now


# KEYS[1] counter; ARGV[1] window in ms, ARGV[2] limit. Returns -1 when the hit is counted,
# else the milliseconds until the window ends (at least 1).
_RESERVE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[2]) then
  return math.max(redis.call('PTTL', KEYS[1]), 1)
end
redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return -1
"""
_RELEASE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
"""


class RedisCache:
    """A cache in Redis, shared by every worker that points at the same server.

    Redis being down degrades to "no cache" (a warning is logged), never to a failed request:
    the backends then ask the authorization server directly.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "resource_guard:",
                 client: Any | None = None, socket_timeout: float = 0.5) -> None:
        if client is None:
            import redis  # optional dependency: only needed when a RedisCache is created

            client = redis.Redis.from_url(url, socket_timeout=socket_timeout,
                                          socket_connect_timeout=socket_timeout)
        self._redis = client
        self.prefix = prefix
        self._reserve_script = client.register_script(_RESERVE)
        self._release_script = client.register_script(_RELEASE)

    def _run(self, what: str, call: Callable[[], Any]) -> Any | None:
        try:
            return call()
        except Exception as exc:  # redis.RedisError and socket errors alike
            logger.warning("Redis cache %s failed (%s); continuing without the cache", what,
                           type(exc).__name__)
            return None

    def get(self, key: str) -> Any | None:
        raw = self._run("get", lambda: self._redis.get(self.prefix + key))
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, ttl: float) -> None:
        millis = int(ttl * 1000) if math.isfinite(ttl) else 0
        if millis > 0:
            self._run("set", lambda: self._redis.set(self.prefix + key, json.dumps(value),
                                                     px=millis))

    def incr(self, key: str, window: float) -> tuple[int, float]:
        full = self.prefix + key

        def call() -> tuple[int, float]:
            pipe = self._redis.pipeline()
            pipe.incr(full)
            pipe.pexpire(full, max(1, int(window * 1000)), nx=True)
            pipe.pttl(full)
            count, _, pttl = pipe.execute()
            return int(count), max(pttl, 0) / 1000

        return self._run("incr", call) or (0, 0.0)

    def count(self, key: str) -> tuple[int, float]:
        full = self.prefix + key

        def call() -> tuple[int, float]:
            pipe = self._redis.pipeline()
            pipe.get(full)
            pipe.pttl(full)
            raw, pttl = pipe.execute()
            return (int(raw) if raw is not None else 0), max(pttl, 0) / 1000

        return self._run("count", call) or (0, 0.0)

    def reserve(self, key: str, window: float, limit: int) -> float | None:
        # One Lua script runs atomically in Redis: no other client's hit lands between the
        # check and the count, whichever worker or server sends it.
        refused = self._run("reserve", lambda: self._reserve_script(
            keys=[self.prefix + key], args=[max(1, int(window * 1000)), limit]))
        return None if refused is None or int(refused) < 0 else int(refused) / 1000

    def release(self, key: str) -> None:
        self._run("release", lambda: self._release_script(keys=[self.prefix + key]))
