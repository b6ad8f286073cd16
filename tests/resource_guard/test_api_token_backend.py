"""APITokenBackend: format check before lookup, Djblets messages, throttled last-used, policy."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resource_guard import AuthResult, Expiry, Guard
from resource_guard.backends import APITokenBackend
from resource_guard.tokens import generate_token
from tests.resource_guard.rg_testkit import FakeClock, MemoryStore, make_request


def check(backend: APITokenBackend, header: str, method: str = "GET",
          **requirement: Any) -> AuthResult:
    guard = Guard([backend])
    return guard.check(make_request(header, method=method), guard.requirement(**requirement))


def test_valid_token(clock: FakeClock) -> None:
    store = MemoryStore()
    expires = datetime.fromtimestamp(clock.now, UTC) + timedelta(days=1)
    token = store.add(expires=expires, claims={"username": "alice"})
    result = check(APITokenBackend(store=store, clock=clock), f"token {token}",
                   scopes=["anything"])
    p = result.principal
    assert p is not None and p.subject == "alice" and p.scopes is None
    assert p.backend == "api_token" and p.token_id == "1" and p.claims["username"] == "alice"
    assert p.expires_at == expires and p.expiry is Expiry.API_TOKEN_EXPIRES


@pytest.mark.parametrize("scheme", ["token", "Token", "TOKEN"])
def test_scheme_is_case_insensitive_so_drf_clients_work(clock: FakeClock, scheme: str) -> None:
    store = MemoryStore()
    token = store.add()
    assert check(APITokenBackend(store=store, clock=clock), f"{scheme} {token}").ok


def test_keyword_is_configurable(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add()
    backend = APITokenBackend(store=store, keyword="ApiKey", clock=clock)
    assert check(backend, f"apikey {token}").ok
    assert check(backend, f"token {token}").status == 401  # not ours: anonymous
    assert check(backend, "ApiKey nope").headers["WWW-Authenticate"].startswith("ApiKey ")


def _typo(token: str) -> str:
    """The token with its last checksum character changed (never to the same one)."""
    return token[:-1] + ("1" if token[-1] == "0" else "0")


@pytest.mark.parametrize("value", ["nope", "rgat_short", "typo", "x" * 5000], ids=["nope", "short", "typo", "long"])
def test_malformed_tokens_never_reach_the_store(clock: FakeClock, value: str) -> None:
    value = _typo(generate_token("rgat")) if value == "typo" else value
    store = MemoryStore()
    result = check(APITokenBackend(store=store, clock=clock), f"token {value}")
    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["WWW-Authenticate"]
    assert store.lookups == []


def test_prefix_restriction(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add()
    backend = APITokenBackend(store=store, prefixes=["asapi"], clock=clock)
    assert check(backend, f"token {token}").status == 401
    assert store.lookups == []


def test_unknown_token(clock: FakeClock) -> None:
    store = MemoryStore()
    result = check(APITokenBackend(store=store, clock=clock), f"token {generate_token('rgat')}")
    assert result.status == 401 and len(store.lookups) == 1


def test_expired_token_message(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add(expires=datetime(2024, 3, 1, 12, 30, tzinfo=UTC))
    result = check(APITokenBackend(store=store, clock=clock), f"token {token}")
    assert result.status == 401 and result.error is not None
    assert result.error.description == "This API token expired on 2024-03-01 12:30:00 UTC."


def test_expiry_follows_the_clock(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add(expires=datetime.fromtimestamp(clock.now + 60, UTC).replace(tzinfo=None))
    backend = APITokenBackend(store=store, clock=clock)
    assert check(backend, f"token {token}").ok  # naive datetimes are taken as UTC
    clock.advance(61)
    assert check(backend, f"token {token}").status == 401


def test_invalidated_token_message(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add(valid=False, invalid_date=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
                      invalid_reason="Leaked in a public repository.")
    result = check(APITokenBackend(store=store, clock=clock), f"token {token}")
    assert result.status == 401 and result.error is not None
    assert result.error.description == ("This API token became invalid on 2024-05-06 07:08:09 "
                                        "UTC: Leaked in a public repository.")


def test_last_used_is_throttled(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add()
    backend = APITokenBackend(store=store, touch_interval=300, clock=clock)
    for _ in range(50):
        assert check(backend, f"token {token}").ok
    assert len(store.touches) == 1
    clock.advance(299)
    assert check(backend, f"token {token}").ok
    assert len(store.touches) == 1
    clock.advance(2)
    assert check(backend, f"token {token}").ok
    assert [t[0] for t in store.touches] == ["1", "1"]
    assert store.touches[1][1] == datetime.fromtimestamp(clock.now, UTC)


def test_failure_to_record_last_use_does_not_fail_the_request(clock: FakeClock) -> None:
    store = MemoryStore(fail_touch=True)
    token = store.add()
    assert check(APITokenBackend(store=store, clock=clock), f"token {token}").ok


def test_a_failure_to_record_last_use_is_logged_with_its_traceback_without_the_token(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    token = store.add()

    def touch_last_used(token_id: str, when: datetime) -> None:
        raise ConnectionError(f"UPDATE api_tokens failed for {token}")

    store.touch_last_used = touch_last_used  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="resource_guard"):
        assert check(APITokenBackend(store=store, clock=clock), f"token {token}").ok
    assert "Could not record last use of API token 1" in caplog.text
    assert "Traceback" in caplog.text and "ConnectionError: UPDATE api_tokens failed" in caplog.text
    assert token not in caplog.text and token[5:] not in caplog.text


def test_policy_is_enforced(clock: FakeClock) -> None:
    store = MemoryStore()
    token = store.add(policy={"resources": {"*": {"block": ["*"]},
                                            "reports": {"*": {"allow": ["GET"]}}}})
    backend = APITokenBackend(store=store, clock=clock)
    assert check(backend, f"token {token}", resource="reports").ok
    denied = check(backend, f"token {token}", method="DELETE", resource="reports")
    assert denied.status == 403
    assert denied.headers["WWW-Authenticate"].startswith('Token realm="api", '
                                                         'error="insufficient_scope"')
    assert check(backend, f"token {token}", resource="users").status == 403


def test_tokens_never_reach_the_logs(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore(fail_touch=True)
    token = store.add()
    with caplog.at_level(logging.DEBUG, logger="resource_guard"):
        check(APITokenBackend(store=store, clock=clock), f"token {token}")
        check(APITokenBackend(store=store, clock=clock), f"token {token[:-2]}zz")
    assert token not in caplog.text and token[:-2] not in caplog.text
