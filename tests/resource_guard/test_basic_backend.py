"""BasicAuthBackend: verifier, challenges, and failed-login rate limiting (429)."""

from __future__ import annotations

import base64
import contextlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from resource_guard import AuthResult, Guard
from resource_guard.backends import BasicAuthBackend, VerifiedUser
from resource_guard.cache import RedisCache
from tests.resource_guard.rg_testkit import FakeClock, Users, basic, make_request


def check(backend: BasicAuthBackend, header: str, addr: str = "192.0.2.1") -> AuthResult:
    guard = Guard([backend])
    return guard.check(make_request(header, remote_addr=addr), guard.requirement(scopes=["x"]))


def test_valid_password_gives_an_unscoped_principal(clock: FakeClock) -> None:
    result = check(BasicAuthBackend(verifier=Users(), clock=clock), basic("alice", "wonderland"))
    p = result.principal
    assert p is not None and p.subject == "user:alice" and p.scopes is None
    assert p.backend == "basic" and p.claims["username"] == "alice"


def test_password_may_contain_colons_and_unicode(clock: FakeClock) -> None:
    users = Users(passwords={"zoë": "a:b:ç"})
    assert check(BasicAuthBackend(verifier=users, clock=clock), basic("zoë", "a:b:ç")).ok


def test_wrong_password_is_401_with_a_basic_challenge(clock: FakeClock) -> None:
    result = check(BasicAuthBackend(verifier=Users(), realm="reports", clock=clock),
                   basic("alice", "nope"))
    assert result.status == 401
    assert result.headers["WWW-Authenticate"] == 'Basic realm="reports", charset="UTF-8"'
    assert result.error is not None and result.error.to_json() == {
        "error": "invalid_credentials", "error_description": "Invalid username or password."}


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Basic " + base64.b64encode(
    b"no-colon").decode(), "Basic " + base64.b64encode(b":password").decode(), "Basic"])
def test_malformed_basic_header_is_400(clock: FakeClock, header: str) -> None:
    users = Users()
    assert check(BasicAuthBackend(verifier=users, clock=clock), header).status == 400
    assert users.calls == 0


def test_five_failures_per_minute_then_429(clock: FakeClock) -> None:
    users = Users()
    backend = BasicAuthBackend(verifier=users, clock=clock)
    for _ in range(5):
        assert check(backend, basic("alice", "guess")).status == 401
    blocked = check(backend, basic("alice", "wonderland"))  # even the right password
    assert blocked.status == 429
    assert blocked.headers["Retry-After"] == "60"
    assert blocked.error is not None and blocked.error.code == "too_many_requests"
    assert users.calls == 5  # no password check while blocked
    clock.advance(30)
    assert check(backend, basic("alice", "wonderland")).headers["Retry-After"] == "30"
    clock.advance(31)
    assert check(backend, basic("alice", "wonderland")).ok


def test_limit_is_per_user_and_address(clock: FakeClock) -> None:
    backend = BasicAuthBackend(verifier=Users(), clock=clock)
    for _ in range(5):
        check(backend, basic("alice", "guess"), addr="198.51.100.7")
    assert check(backend, basic("alice", "guess"), addr="198.51.100.7").status == 429
    assert check(backend, basic("alice", "wonderland"), addr="203.0.113.9").ok
    assert check(backend, basic("bob", "builder"), addr="198.51.100.7").ok


def test_limits_are_configurable(clock: FakeClock) -> None:
    backend = BasicAuthBackend(verifier=Users(), max_failures=2, failure_window=10, clock=clock)
    check(backend, basic("alice", "x"))
    check(backend, basic("alice", "x"))
    result = check(backend, basic("alice", "wonderland"))
    assert result.status == 429 and result.headers["Retry-After"] == "10"


def test_shared_limit_through_redis() -> None:
    cache = RedisCache(prefix=f"rg-test:{uuid.uuid4().hex}:")
    try:
        worker_a = BasicAuthBackend(verifier=Users(), rate_limit_cache=cache)
        worker_b = BasicAuthBackend(verifier=Users(), rate_limit_cache=cache)
        for worker in (worker_a, worker_b, worker_a, worker_b, worker_a):
            assert check(worker, basic("alice", "guess")).status == 401
        blocked = check(worker_b, basic("alice", "wonderland"))
        assert blocked.status == 429 and 0 < int(blocked.headers["Retry-After"]) <= 60
    finally:
        for key in cache._redis.scan_iter(cache.prefix + "*"):
            cache._redis.delete(key)


def test_passwords_never_reach_the_logs(clock: FakeClock,
                                        caplog: pytest.LogCaptureFixture) -> None:
    backend = BasicAuthBackend(verifier=Users(), clock=clock)
    with caplog.at_level("DEBUG", logger="resource_guard"):
        for _ in range(7):
            check(backend, basic("alice", "hunter2-secret"))
    assert "alice" in caplog.text
    assert "hunter2-secret" not in caplog.text


class SlowUsers(Users):
    """A verifier that holds every caller until all have arrived: the burst is simultaneous."""

    def __init__(self, callers: int) -> None:
        super().__init__()
        self._arrived = threading.Barrier(callers, timeout=0.5)
        self._lock = threading.Lock()

    def verify(self, username: str, password: str) -> VerifiedUser | None:
        with contextlib.suppress(threading.BrokenBarrierError):  # fewer callers got this far
            self._arrived.wait()
        with self._lock:  # the count itself must not race
            return super().verify(username, password)


def test_a_burst_of_simultaneous_guesses_gets_exactly_the_limit_checked(clock: FakeClock) -> None:
    """Twenty wrong passwords at once: five are checked (401), fifteen refused unchecked (429)."""
    users = SlowUsers(callers=20)
    backend = BasicAuthBackend(verifier=users, clock=clock)
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(lambda _: check(backend, basic("alice", "guess")).status, range(20)))
    assert statuses == [401] * 5 + [429] * 15
    assert users.calls == 5


def test_a_right_password_gives_its_attempt_back(clock: FakeClock) -> None:
    backend = BasicAuthBackend(verifier=Users(), clock=clock)
    for _ in range(10):
        assert check(backend, basic("alice", "wonderland")).ok
    for _ in range(5):
        assert check(backend, basic("alice", "guess")).status == 401
    assert check(backend, basic("alice", "guess")).status == 429
