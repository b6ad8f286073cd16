"""The per-worker client cache: fresh within its TTL, safe when the client changes under it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import delete, update

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import Client
from authserver.oauth.clients import ClientCache
from authserver.secrets import SecretHasher

from .helpers import token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cached(app: Flask):
    """The app's server with a cache on a clock the test moves."""
    server = state(app).server
    original, clock = server.clients, Clock()
    server.clients = ClientCache(5, server.tokens.hasher, clock=clock)
    yield clock
    server.clients = original


def _change_elsewhere(client_id: str, **values: object) -> None:
    """What the command line does from another process: write without touching our cache."""
    db.session.execute(update(Client).where(Client.client_id == client_id).values(**values))
    db.session.commit()


def test_a_rotated_secret_elsewhere_is_seen_within_the_ttl(app: Flask, make_client, cached: Clock) -> None:
    c = make_client()
    assert token(app, c.basic).status_code == 200  # now cached
    new_secret = "ascs_" + "N" * 36
    _change_elsewhere(c.client_id, client_secret_hash=SecretHasher(app.config["SECRET_KEY"]).hash(new_secret))
    cached.now += 4.9
    assert token(app, c.basic).status_code == 200  # within the documented bound
    cached.now += 0.2
    assert token(app, c.basic).status_code == 401
    assert token(app, (c.client_id, new_secret)).status_code == 200


def test_a_client_deleted_elsewhere_while_cached_gets_invalid_client_not_500(
    app: Flask, make_client, cached: Clock
) -> None:
    c = make_client()
    assert token(app, c.basic).status_code == 200
    db.session.execute(delete(Client).where(Client.client_id == c.client_id))
    db.session.commit()
    resp = token(app, c.basic)
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    assert token(app, c.basic).status_code == 401  # and the stale entry is gone


def test_changes_made_in_this_process_apply_at_once(app: Flask, make_client, cached: Clock) -> None:
    runner = app.test_cli_runner()
    c = make_client()
    assert token(app, c.basic).status_code == 200
    assert runner.invoke(args=["clients", "rotate-secret", c.client_id]).exit_code == 0
    assert token(app, c.basic).status_code == 401
    assert runner.invoke(args=["clients", "delete", c.client_id]).exit_code == 0
    assert token(app, c.basic).status_code == 401


def test_unknown_ids_are_not_cached(app: Flask, cached: Clock) -> None:
    server = state(app).server
    for i in range(50):
        assert server.query_client(f"nobody{i}") is None
    assert server.clients._entries == {}
