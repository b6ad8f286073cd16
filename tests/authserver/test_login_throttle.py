"""Failed sign-ins are limited per username and client address (Djblets: 5 a minute)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask

from authserver.appstate import state

from .authorize_helpers import sign_in


def test_the_sixth_failure_in_a_minute_is_refused_with_retry_after(app: Flask, make_user) -> None:
    name, password = make_user()
    http = app.test_client()
    for _ in range(5):
        assert sign_in(http, name, "wrong password").status_code == 400
    limited = sign_in(http, name, password)  # even the right password waits
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "Too many failed sign-ins" in limited.get_data(as_text=True)


def test_the_limit_is_per_user_and_address(app: Flask, make_user) -> None:
    victim, _ = make_user()
    other, other_password = make_user()
    http = app.test_client()
    for _ in range(5):
        sign_in(http, victim, "wrong password")
    assert sign_in(http, other, other_password).status_code == 303
    other_address = app.test_client()
    other_address.environ_base = {"REMOTE_ADDR": "192.0.2.7"}
    assert sign_in(other_address, victim, "wrong password").status_code == 400


def test_unknown_usernames_are_limited_too(app: Flask) -> None:
    http = app.test_client()
    name = "nobody-" + uuid.uuid4().hex
    statuses = [sign_in(http, name, "guess").status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


@pytest.fixture
def redis_app(server_settings: dict[str, Any], migrated_app: Flask):
    from authserver import create_app

    return [create_app({**server_settings, "redis_url": "redis://127.0.0.1:6379/0"}) for _ in range(2)]


def test_with_redis_workers_share_one_budget(redis_app, make_user) -> None:
    name, _ = make_user()
    first, second = redis_app
    for app in (first, second, first, second, first):
        with app.app_context():
            assert sign_in(app.test_client(), name, "wrong password").status_code == 400
    with second.app_context():
        assert sign_in(second.test_client(), name, "wrong password").status_code == 429


def test_without_redis_workers_share_one_budget_through_the_database(server_settings: dict[str, Any],
                                                                     migrated_app: Flask, make_user) -> None:
    from authserver import create_app

    first, second = (create_app(server_settings) for _ in range(2))  # two workers' apps
    name, password = make_user()
    for app in (first, second, first, second, first):
        with app.app_context():
            assert sign_in(app.test_client(), name, "wrong password").status_code == 400
    for app in (first, second):
        with app.app_context():
            assert sign_in(app.test_client(), name, password).status_code == 429


def test_the_table_names_neither_the_username_nor_the_address(app: Flask) -> None:
    import hashlib

    from sqlalchemy import select

    from authserver.extensions import db
    from authserver.models import LoginFailure

    name = "secret-name-" + uuid.uuid4().hex
    http = app.test_client()
    http.environ_base = {"REMOTE_ADDR": "198.51.100.23"}
    sign_in(http, name, "guess")
    rows = [tuple(str(v) for v in r) for r in db.session.execute(select(LoginFailure.__table__)).all()]
    assert rows and not any(name in v or "198.51.100.23" in v for r in rows for v in r)
    unkeyed = {hashlib.sha256(f"{name}\x00198.51.100.23".encode()).hexdigest(),
               hashlib.sha256(f"login-failure\x00{name}\x00198.51.100.23".encode()).hexdigest()}
    assert not unkeyed & {r[0] for r in rows}  # a dictionary of names and addresses finds nothing


def test_a_window_ends_and_old_rows_are_cleared(app: Flask) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from authserver.extensions import db
    from authserver.models import LoginFailure
    from authserver.models.types import utcnow
    from authserver.people.throttle import DatabaseLimiter

    now = [utcnow()]
    limiter = DatabaseLimiter(state(app).hasher, 2, 60, clock=lambda: now[0])
    user, other = "u-" + uuid.uuid4().hex, "o-" + uuid.uuid4().hex
    assert limiter.reserve(other, "192.0.2.1") is None
    for _ in range(2):
        assert limiter.reserve(user, "192.0.2.1") is None
    now[0] += timedelta(seconds=45)
    assert limiter.reserve(user, "192.0.2.1") == 15
    assert limiter.reserve(user, "192.0.2.2") is None
    now[0] += timedelta(seconds=15)
    assert limiter.reserve(user, "192.0.2.1") is None  # a new window: one attempt, not three
    assert limiter.reserve(user, "192.0.2.1") is None
    assert limiter.reserve(user, "192.0.2.1") == 60
    cutoff = now[0] - timedelta(seconds=60)
    stale = select(func.count()).select_from(LoginFailure).where(LoginFailure.window_start <= cutoff)
    assert db.session.scalar(stale) == 0  # the other key's expired row went with the next failure


def test_a_right_password_gives_its_attempt_back(app: Flask, make_user) -> None:
    name, password = make_user()
    http = app.test_client()
    for _ in range(4):
        assert sign_in(http, name, "wrong password").status_code == 400
    for _ in range(3):  # signing in over and over does not spend the budget...
        assert sign_in(app.test_client(), name, password).status_code == 303
    assert sign_in(http, name, "wrong password").status_code == 400  # ...the fifth failure is allowed
    assert sign_in(http, name, "wrong password").status_code == 429


def test_the_database_limiter_admits_exactly_the_limit_under_concurrency(migrated_app: Flask) -> None:
    """Twenty attempts from ten threads, each with its own connection, at once: five get through."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from authserver.people.throttle import DatabaseLimiter

    limiter = DatabaseLimiter(state(migrated_app).hasher, 5, 60)
    name, start = "c-" + uuid.uuid4().hex, Barrier(10)

    def attempt(_: int) -> int | None:
        with migrated_app.app_context():  # a session, and so a connection, per thread
            start.wait()
            return limiter.reserve(name, "192.0.2.9")

    with ThreadPoolExecutor(10) as pool:
        waits = list(pool.map(attempt, range(20)))
    assert waits.count(None) == 5
    assert all(w is not None and 0 < w <= 60 for w in waits if w is not None)
    with migrated_app.app_context():
        limiter.release(name, "192.0.2.9")  # one of the five was right
        assert limiter.reserve(name, "192.0.2.9") is None
        assert limiter.reserve(name, "192.0.2.9") is not None
