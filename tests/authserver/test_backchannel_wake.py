"""The back-channel logout thread is woken, not polling: on a database of its own, with no
client listening for logouts, it looks at the outbox every 30 s; a notice written (the
``logouts`` change, here after the commit or from another node through the channel) wakes
it at once; hearing of every change, it sleeps until woken."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from authserver.appstate import state
from authserver.changes import Change, Kind
from authserver.oauth.backchannel_logout import POLL_INTERVAL, QUIET_POLL_INTERVAL, LogoutDelivery


@pytest.fixture
def own_app(server_settings: dict[str, Any], migrated_app: Flask, tmp_path: Path) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from authserver import create_app
    from authserver.extensions import db

    app = create_app({**server_settings, "database_url": f"sqlite:///{tmp_path / 'outbox.sqlite3'}"})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


class Counted(LogoutDelivery):
    drained: int = 0
    pass_done: threading.Condition = threading.Condition()

    def drain(self, now: datetime | None = None) -> int:
        attempted = super().drain(now)
        with self.pass_done:
            self.drained += 1
            self.pass_done.notify_all()
        return attempted


def test_how_long_it_sleeps(own_app: Flask) -> None:
    changes = state(own_app).changes
    delivery = LogoutDelivery(own_app, state(own_app).keys, "http://127.0.0.1", changes=changes)
    with own_app.app_context():
        assert delivery.idle_wait() == QUIET_POLL_INTERVAL  # nobody listens for logouts
        done = own_app.test_cli_runner().invoke(args=[
            "clients", "create", "--name", "listens", "--grant-type", "authorization_code",
            "--redirect-uri", "https://rp.example/cb", "--backchannel-logout-uri", "https://rp.example/logout"])
        assert done.exit_code == 0, done.output
        assert delivery.idle_wait() == POLL_INTERVAL  # not hearing of notices written elsewhere
        changes.live.set()  # as while its listener is connected
        try:
            assert delivery.idle_wait() is None  # nothing due: until woken
        finally:
            changes.live.clear()


def test_a_written_notice_wakes_it_at_once(own_app: Flask) -> None:
    changes = state(own_app).changes
    delivery = Counted(own_app, state(own_app).keys, "http://127.0.0.1", changes=changes)
    delivery.start()
    try:
        with delivery.pass_done:
            assert delivery.pass_done.wait_for(lambda: delivery.drained == 1, 10)  # its first look
            changes.apply(Change(Kind.LOGOUTS))  # what a commit that wrote a notice applies
            assert delivery.pass_done.wait_for(lambda: delivery.drained == 2, 0.5)  # not at a poll
    finally:
        delivery.stop()
