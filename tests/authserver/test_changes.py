"""Changes reach the other workers within a second through the change channel (PostgreSQL's
LISTEN/NOTIFY, or Redis pub/sub), and a worker that loses the channel says so once, drops
what it cached, and listens again. Two apps on one database are two workers (or two nodes);
``tests/e2e/test_cluster.py`` runs whole servers behind HAProxy."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask

from authserver.appstate import state
from authserver.changes import Change, Kind, announce
from authserver.changes.listener import Listener
from authserver.extensions import db
from tests.databases import PG_ADMIN

REDIS_URL = "redis://127.0.0.1:6379/0"
WITHIN = 1.0  # the promise: every worker sees a change within a second


@pytest.fixture(params=["postgresql", "redis"])
def channel(request: pytest.FixtureRequest, database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no change channel: one node, its caches' TTLs bound a change")
    return str(request.param)


@pytest.fixture
def workers(server_settings: dict[str, Any], migrated_app: Flask, channel: str) -> Iterator[tuple[Flask, Flask]]:
    """Two workers' apps on the test database."""
    from authserver import create_app

    settings = {**server_settings, **({"redis_url": REDIS_URL} if channel == "redis" else {})}
    made = (create_app(settings), create_app(settings))
    yield made
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def nodes(workers: tuple[Flask, Flask]) -> Iterator[tuple[Flask, Flask, Listener]]:
    """Two workers' apps; the second listens."""
    first, second = workers
    changes = state(second).changes
    assert changes.channel is not None
    listener = Listener(changes, changes.channel)
    listener.start()
    assert changes.live.wait(10), "the listener did not connect"
    yield first, second, listener
    listener.stopped.set()
    changes.live.clear()


def token_status(app: Flask, basic: tuple[str, str]) -> int:
    with app.app_context():
        return app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                      auth=basic).status_code


def within(seconds: float, check: Callable[[], bool]) -> float:
    """How long ``check`` took to hold, or fail after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


def rotate_secret(app: Flask, client_id: str) -> str:
    done = app.test_cli_runner().invoke(args=["clients", "rotate-secret", client_id, "--json"])
    assert done.exit_code == 0, done.output
    return str(json.loads(done.output)["client_secret"])


def test_a_rotated_secret_is_refused_by_another_worker_within_a_second(nodes, make_client) -> None:
    first, second, _ = nodes
    client = make_client()
    assert token_status(second, client.basic) == 200  # cached by the second worker now
    new_secret = rotate_secret(first, client.client_id)
    within(WITHIN, lambda: token_status(second, client.basic) == 401)
    assert token_status(second, (client.client_id, new_secret)) == 200


def test_a_deleted_client_is_refused_by_another_worker_within_a_second(nodes, make_client) -> None:
    first, second, _ = nodes
    client = make_client()
    assert token_status(second, client.basic) == 200
    done = first.test_cli_runner().invoke(args=["clients", "delete", client.client_id])
    assert done.exit_code == 0, done.output
    within(WITHIN, lambda: token_status(second, client.basic) == 401)


def test_control_without_a_listener_the_old_secret_holds_for_the_cache_ttl(workers, make_client) -> None:
    """What the channel changes: a worker that does not listen keeps the client it cached."""
    first, second = workers
    client = make_client()
    assert token_status(second, client.basic) == 200
    rotate_secret(first, client.client_id)
    time.sleep(WITHIN)  # the promise's second, passed: without the channel, nothing was heard
    assert token_status(second, client.basic) == 200


def test_a_rotated_key_signs_at_once_on_another_worker(nodes) -> None:
    first, second, _ = nodes
    with second.app_context():
        before = state(second).keys.active().kid
    done = first.test_cli_runner().invoke(args=["keys", "rotate"])
    assert done.exit_code == 0, done.output

    def signs_with_new_key() -> bool:
        with second.app_context():
            return state(second).keys.active().kid != before

    within(WITHIN, signs_with_new_key)


def test_a_rolled_back_change_is_never_heard(nodes) -> None:
    first, second, _ = nodes
    heard: list[str] = []
    arrived = threading.Event()

    def note(change: Change) -> None:
        heard.append(change.key)
        if change.key == "kept":
            arrived.set()

    state(second).changes.on(Kind.CLIENT, note)
    with first.app_context():
        announce(Change(Kind.CLIENT, "undone"))
        db.session.rollback()
        announce(Change(Kind.CLIENT, "kept"))
        db.session.commit()
    assert arrived.wait(WITHIN)
    assert "undone" not in heard


def kill_listening_connection(channel: str) -> None:
    """What a database or Redis restart does to the listener's connection."""
    if channel == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = 'authserver-changes' AND pid <> pg_backend_pid()")
            assert killed.fetchone() != (0,)
    else:
        client = redis.Redis.from_url(REDIS_URL)
        assert client.client_kill_filter(_type="pubsub", skipme=True) >= 1


def test_a_lost_channel_is_said_once_and_heard_again(nodes, channel, make_client,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    first, second, _ = nodes
    changes = state(second).changes
    caplog.set_level(logging.INFO, logger="authserver.changes")
    client = make_client()
    assert token_status(second, client.basic) == 200
    kill_listening_connection(channel)
    within(10, lambda: "listening for changes" in caplog.text)
    assert caplog.text.count("lost the change channel") == 1
    assert changes.live.is_set()
    new_secret = rotate_secret(first, client.client_id)  # heard on the new connection
    within(WITHIN, lambda: token_status(second, client.basic) == 401)
    assert token_status(second, (client.client_id, new_secret)) == 200
