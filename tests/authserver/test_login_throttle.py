"""Failed sign-ins are limited per username and client address (Djblets: 5 a minute)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask

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
def redis_app(server_settings: dict[str, Any], migrated_app: Flask):  # type: ignore[no-untyped-def]
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
