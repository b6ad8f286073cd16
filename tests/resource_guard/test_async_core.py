"""The async core: ``Guard.authenticate_async`` / ``check_async`` against a real HTTP issuer.

The rules are the sync ones (the same tokens get the same answers); what the async path adds is
where waiting happens: concurrent misses share one fetch, a cached credential is answered
without suspending, and blocking stores run on a bounded pool of worker threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from resource_guard import AuthResult, Guard
from resource_guard.aio import THREAD_LIMIT
from resource_guard.backends import APITokenBackend, APITokenRecord, BearerJWTBackend, IntrospectionBackend
from tests.resource_guard.rg_testkit import AUDIENCE, FakeIssuer, MemoryStore, make_request, sign_es256

METADATA = "/.well-known/oauth-authorization-server"


def _jwt_guard(issuer: FakeIssuer) -> Guard:
    return Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE)])


def _introspection_guard(issuer: FakeIssuer) -> Guard:
    return Guard([IntrospectionBackend(issuer.url, issuer.client_id, issuer.client_secret, audience=AUDIENCE)])


def _finished_without_suspending(coroutine: Coroutine[Any, Any, AuthResult]) -> AuthResult:
    """Drive ``coroutine`` one step outside any event loop: it must complete in that step,
    i.e. it awaited nothing that waits (no I/O, no thread, no lock)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError("the coroutine suspended: a cache hit awaited something")


def test_200_concurrent_cold_requests_cause_one_metadata_and_one_jwks_fetch(issuer: FakeIssuer) -> None:
    guard = _jwt_guard(issuer)
    tokens = [issuer.sign({"sub": f"user-{i}"}) for i in range(200)]

    async def main() -> list[AuthResult]:
        return await asyncio.gather(*(guard.authenticate_async(make_request(f"Bearer {t}")) for t in tokens))

    results = asyncio.run(main())
    assert [r.principal.subject if r.principal else r.error for r in results] == [f"user-{i}" for i in range(200)]
    assert issuer.hits[METADATA] == 1
    assert issuer.hits["/jwks"] == 1


def test_the_same_uncached_token_200_times_is_introspected_once(issuer: FakeIssuer) -> None:
    issuer.introspection["opaque-1"] = {"active": True, "sub": "alice", "client_id": "c1", "aud": AUDIENCE,
                                        "scope": "reports:read", "exp": int(time.time()) + 300}
    guard = _introspection_guard(issuer)

    async def main() -> list[AuthResult]:
        return await asyncio.gather(*(guard.authenticate_async(make_request("Bearer opaque-1"))
                                      for _ in range(200)))

    results = asyncio.run(main())
    assert all(r.principal is not None and r.principal.subject == "alice" for r in results)
    assert issuer.hits["/introspect"] == 1 and issuer.hits[METADATA] == 1
    # the answer is cached: a later request asks nobody
    asyncio.run(main())
    assert issuer.hits["/introspect"] == 1


def test_concurrent_requests_for_different_tokens_are_introspected_separately(issuer: FakeIssuer) -> None:
    for name in ("a", "b"):
        issuer.introspection[name] = {"active": True, "sub": name, "aud": AUDIENCE, "exp": int(time.time()) + 300}
    guard = _introspection_guard(issuer)

    async def main() -> list[AuthResult]:
        return await asyncio.gather(*(guard.authenticate_async(make_request(f"Bearer {name}"))
                                      for name in "abab"))

    assert [r.principal.subject for r in asyncio.run(main()) if r.principal] == ["a", "b", "a", "b"]
    assert issuer.hits["/introspect"] == 2


def test_a_cached_token_is_answered_without_suspending(issuer: FakeIssuer) -> None:
    jwt_guard, opaque_guard = _jwt_guard(issuer), _introspection_guard(issuer)
    token = issuer.sign()
    issuer.introspection["opaque-2"] = {"active": True, "sub": "bob", "aud": AUDIENCE, "exp": int(time.time()) + 300}
    requirement = Guard.requirement(scopes=["reports:read"])

    async def warm() -> None:
        await jwt_guard.authenticate_async(make_request(f"Bearer {token}"))
        await opaque_guard.authenticate_async(make_request("Bearer opaque-2"))

    asyncio.run(warm())
    fetches = sum(issuer.hits.values())
    hit = _finished_without_suspending(jwt_guard.check_async(make_request(f"Bearer {token}"), requirement))
    assert hit.principal is not None and hit.principal.subject == "user-1"
    hit = _finished_without_suspending(opaque_guard.authenticate_async(make_request("Bearer opaque-2")))
    assert hit.principal is not None and hit.principal.subject == "bob"
    assert sum(issuer.hits.values()) == fetches


def test_async_and_sync_paths_give_the_same_answers(issuer: FakeIssuer) -> None:
    """One set of rules: every attack gets the same status, error and challenge either way."""
    guard = _jwt_guard(issuer)
    attacker = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    claims = {"iss": issuer.url, "sub": "mallory", "aud": AUDIENCE, "client_id": "c", "iat": now,
              "exp": now + 300, "jti": "j1", "scope": "reports:read"}
    headers = {"alg": "ES256", "typ": "at+jwt", "kid": issuer.keys[0].kid}
    tokens = {
        "valid": issuer.sign(),
        "forged": sign_es256(headers, claims, attacker),
        "alg none": sign_es256({**headers, "alg": "none"}, claims, attacker),
        "expired": issuer.sign({"exp": now - 3600, "iat": now - 7200}),
        "wrong audience": issuer.sign({"aud": "https://other.example"}),
        "unknown kid": sign_es256({**headers, "kid": "nope"}, claims, attacker),
        "not a jwt": "a.b.c",
        "malformed header": "",
    }
    requirement = Guard.requirement(scopes=["reports:read"])

    def seen(result: AuthResult) -> tuple[int, str | None, str | None]:
        return result.status, result.error.code if result.error else None, result.headers.get("WWW-Authenticate")

    async def run_async() -> dict[str, tuple[int, str | None, str | None]]:
        return {name: seen(await guard.check_async(make_request(f"Bearer {t}".strip()), requirement))
                for name, t in tokens.items()}

    asynchronous = asyncio.run(run_async())
    synchronous = {name: seen(_jwt_guard(issuer).check(make_request(f"Bearer {t}".strip()), requirement))
                   for name, t in tokens.items()}
    assert asynchronous == synchronous
    assert asynchronous["valid"][0] == 200
    assert all(status == 401 for name, (status, _, _) in asynchronous.items() if name not in ("valid",
                                                                                              "malformed header"))
    assert asynchronous["malformed header"][0] == 400


def test_an_unreachable_issuer_is_a_503_for_every_waiter_and_is_retried_later(issuer: FakeIssuer) -> None:
    guard = _introspection_guard(issuer)
    issuer.introspection_status = 500
    issuer.introspection["opaque-3"] = {"active": True, "sub": "carol", "aud": AUDIENCE}

    async def many() -> list[AuthResult]:
        return await asyncio.gather(*(guard.authenticate_async(make_request("Bearer opaque-3")) for _ in range(20)))

    results = asyncio.run(many())
    assert {r.status for r in results} == {503} and all(r.headers["Retry-After"] == "30" for r in results)
    assert issuer.hits["/introspect"] == 1
    issuer.introspection_status = 200
    assert all(r.principal is not None for r in asyncio.run(many()))
    assert issuer.hits["/introspect"] == 2


class _BlockingStore(MemoryStore):
    """A store whose lookups block their thread until released, counting how many overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def lookup(self, token: str) -> APITokenRecord | None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
        try:
            assert self.release.wait(timeout=10), "the event loop never released the store"
            return super().lookup(token)
        finally:
            with self._lock:
                self.running -= 1


def test_blocking_stores_run_on_a_bounded_pool_and_leave_the_loop_free() -> None:
    store = _BlockingStore()
    token = store.add(subject="dave")
    guard = Guard([APITokenBackend(store)])
    loop_thread: list[int] = []

    async def main() -> list[AuthResult]:
        loop_thread.append(threading.get_ident())
        tasks = [asyncio.create_task(guard.authenticate_async(make_request(f"token {token}"))) for _ in range(40)]
        deadline = time.monotonic() + 10
        while store.running < THREAD_LIMIT:  # the loop keeps running while the stores block
            assert time.monotonic() < deadline, store.running
            await asyncio.sleep(0.01)
        store.release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert all(r.principal is not None and r.principal.subject == "dave" for r in results)
    assert store.most == THREAD_LIMIT
    assert loop_thread[0] not in store.threads


def test_keys_unavailable_on_the_async_path_is_a_503(issuer: FakeIssuer) -> None:
    issuer.jwks_status = 500
    guard = _jwt_guard(issuer)
    result = asyncio.run(guard.authenticate_async(make_request(f"Bearer {issuer.sign()}")))
    assert result.status == 503 and result.headers["Retry-After"] == "30"
