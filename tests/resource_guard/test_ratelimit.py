"""The rate limiter reserves an attempt atomically: a burst of simultaneous attempts gets
exactly ``limit`` through, in memory and on Redis alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from resource_guard.cache import Cache, MemoryCache, RedisCache
from resource_guard.ratelimit import RateLimiter
from tests.resource_guard.rg_testkit import FakeClock


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    redis_cache = RedisCache(prefix=f"rg-test:{uuid.uuid4().hex}:")
    yield redis_cache
    for key in redis_cache._redis.scan_iter(redis_cache.prefix + "*"):
        redis_cache._redis.delete(key)


def _burst(limiter: RateLimiter, attempts: int = 40, threads: int = 10) -> list[int | None]:
    start = Barrier(threads)

    def attempt(_: int) -> int | None:
        start.wait()  # every thread asks at the same moment
        return limiter.reserve("alice", "192.0.2.1")

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(attempt, range(attempts)))


def test_a_burst_gets_exactly_the_limit_through(cache: Cache) -> None:
    limiter = RateLimiter(5, 60, cache=cache)
    waits = _burst(limiter)
    assert waits.count(None) == 5
    assert all(0 < w <= 60 for w in waits if w is not None)
    assert limiter.reserve("alice", "192.0.2.2") is None  # another address has its own budget


def test_a_released_attempt_can_be_used_again_and_refusals_cost_nothing(cache: Cache) -> None:
    limiter = RateLimiter(3, 60, cache=cache)
    assert [limiter.reserve("bob", None) for _ in range(3)] == [None] * 3
    assert all(limiter.reserve("bob", None) is not None for _ in range(5))  # refused, not counted
    limiter.release("bob", None)  # one of the three was the right password
    assert limiter.reserve("bob", None) is None
    assert limiter.reserve("bob", None) is not None


def test_releasing_with_nothing_reserved_gives_no_extra_attempts(cache: Cache) -> None:
    limiter = RateLimiter(2, 60, cache=cache)
    for _ in range(3):
        limiter.release("carol", None)
    assert [limiter.reserve("carol", None) is None for _ in range(3)] == [True, True, False]


def test_the_window_ends_on_the_clock(clock: FakeClock) -> None:
    limiter = RateLimiter(2, 60, cache=MemoryCache(clock=clock))
    assert limiter.reserve("dave", None) is None
    clock.advance(20)
    assert limiter.reserve("dave", None) is None
    assert limiter.reserve("dave", None) == 40
    clock.advance(40)
    limiter.release("dave", None)  # the window has ended: nothing to give back
    assert [limiter.reserve("dave", None) for _ in range(3)] == [None, None, 60]


def test_redis_down_lets_attempts_through_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(1, 60, cache=RedisCache("redis://127.0.0.1:1/0", socket_timeout=0.2))
    assert limiter.reserve("erin", None) is None and limiter.reserve("erin", None) is None
    limiter.release("erin", None)
    assert "Redis cache reserve failed" in caplog.text
