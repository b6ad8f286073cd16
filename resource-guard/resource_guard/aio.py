"""The async half of fetching: one httpx client per event loop, single-flight, a bounded pool.

Only fetching has an async path (the verification rules stay the sync, pure functions every
backend already has), so this module holds nothing but I/O plumbing. It needs ``httpx`` and
``anyio`` (the ``asgi`` extra); the core imports it only inside its ``*_async`` methods, so a
WSGI resource server never does.

Everything here is per event loop (anyio's :class:`~anyio.lowlevel.RunVar`): connections,
in-flight calls and worker-thread tokens belong to the loop that made them, so a backend may
serve one loop after another (tests, ``uvicorn --reload``) without sharing a closed one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import anyio
import anyio.to_thread
import httpx
from anyio.lowlevel import RunVar

from resource_guard.cache import Cache, MemoryCache
from resource_guard.httpclient import FetchError, Timeout, json_object

T = TypeVar("T")

#: Blocking credential checks (API-token stores, password verifiers, Redis) that may run at
#: once per event loop; further requests wait for a thread without blocking the loop.
THREAD_LIMIT = 16

_CLIENT: RunVar[httpx.AsyncClient] = RunVar("resource_guard_http_client")
_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("resource_guard_thread_limiter")
_FLIGHTS: RunVar[dict[Hashable, _Flight[Any]]] = RunVar("resource_guard_flights")


@dataclass
class _Flight(Generic[T]):
    done: anyio.Event = field(default_factory=anyio.Event)
    settled: bool = False
    value: T | None = None
    error: Exception | None = None


def _flights() -> dict[Hashable, _Flight[Any]]:
    flights = _FLIGHTS.get(None)
    if flights is None:
        flights = {}
        _FLIGHTS.set(flights)
    return flights


def in_flight(key: Hashable) -> bool:
    """Whether a call for ``key`` is under way on this loop."""
    return key in _flights()


async def shared(key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call`` once for all concurrent callers with the same ``key`` (Go's singleflight).

    The first caller runs it; the others wait and get its value or its exception. If the first
    caller is cancelled (its client hung up), a waiter runs the call itself rather than
    inheriting a cancellation that was not its own.
    """
    flights = _flights()
    while (flight := flights.get(key)) is not None:
        await flight.done.wait()
        if flight.settled:
            if flight.error is not None:
                raise flight.error
            return cast(T, flight.value)
    flight = flights[key] = _Flight()
    try:
        flight.value = value = await call()
        flight.settled = True
        return value
    except Exception as exc:
        flight.error, flight.settled = exc, True
        raise
    finally:
        del flights[key]
        flight.done.set()


def client(given: httpx.AsyncClient | None = None) -> httpx.AsyncClient:
    """``given``, or this loop's shared client (keep-alive connections reused by every backend)."""
    if given is not None:
        return given
    current = _CLIENT.get(None)
    if current is None:
        current = httpx.AsyncClient(follow_redirects=False,
                                    limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))
        _CLIENT.set(current)
    return current


def httpx_timeout(timeout: Timeout) -> httpx.Timeout:
    """requests' ``(connect, read)`` or single timeout, as httpx spells it."""
    if isinstance(timeout, tuple):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(timeout)


async def get_json(given: httpx.AsyncClient | None, url: str, timeout: Timeout
                   ) -> tuple[dict[str, Any], Mapping[str, str]]:
    """GET ``url``; the JSON object and the response headers, FetchError on any failure."""
    try:
        response = await client(given).get(url, timeout=httpx_timeout(timeout),
                                           headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise FetchError(f"GET {url} failed: {type(exc).__name__}") from None
    return json_object(response), response.headers


async def post_form(given: httpx.AsyncClient | None, url: str, data: Mapping[str, str],
                    auth: tuple[str, str], timeout: Timeout) -> httpx.Response:
    """POST a form with HTTP Basic client authentication; FetchError on a network failure."""
    try:
        return await client(given).post(url, data=dict(data), auth=auth, timeout=httpx_timeout(timeout),
                                         headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise FetchError(f"POST {url} failed: {type(exc).__name__}") from None


def _limiter() -> anyio.CapacityLimiter:
    limiter = _LIMITER.get(None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(THREAD_LIMIT)
        _LIMITER.set(limiter)
    return limiter


async def run_sync(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` on a worker thread, at most :data:`THREAD_LIMIT` at once per loop."""
    return await anyio.to_thread.run_sync(func, *args, limiter=_limiter())


async def cache_get(cache: Cache, key: str) -> Any | None:
    """A cache read: inline for the in-process cache, on a worker thread for a networked one."""
    if isinstance(cache, MemoryCache):
        return cache.get(key)
    return await run_sync(cache.get, key)


async def cache_set(cache: Cache, key: str, value: Any, ttl: float) -> None:
    """A cache write, placed like :func:`cache_get`."""
    if isinstance(cache, MemoryCache):
        cache.set(key, value, ttl)
    else:
        await run_sync(cache.set, key, value, ttl)
