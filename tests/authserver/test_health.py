"""The health probes as an orchestrator reads them: liveness without the database, readiness
naming the check that failed (database, schema, signing key), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select, update

from authserver import create_app
from authserver.appstate import state
from authserver.extensions import db
from authserver.models import SigningKey
from authserver.models.types import utcnow
from authserver.schema import migrations_directory

from ..databases import new_database
from ..query_count import counted_queries

READY_CHECKS = {"database": "ok", "schema": "ok", "signing_key": "ok"}


def test_liveness_answers_without_touching_the_database(app: Flask) -> None:
    with counted_queries(app) as statements:
        resp = app.test_client().get("/health/live")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}
    assert statements == []
    assert resp.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in resp.headers


def test_a_migrated_server_with_a_signing_key_is_ready(app: Flask) -> None:
    state(app).keys.active()
    resp = app.test_client().get("/health/ready", headers={"Cookie": "authserver_session=forged"})
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "checks": READY_CHECKS}
    assert resp.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in resp.headers


@pytest.fixture
def fresh_app(database_url: str, server_settings: dict[str, Any], tmp_path: Path
              ) -> Iterator[Callable[[str | None], Flask]]:
    """An app on a new database of the same backend, migrated to ``revision`` (None: not at all)."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"

    def dispose(app: Flask) -> None:
        with app.app_context():
            db.engine.dispose()

    with ExitStack() as stack:
        def make(revision: str | None) -> Flask:
            url = stack.enter_context(new_database(kind, tmp_path, label="health"))
            app = create_app({**server_settings, "database_url": url})
            stack.callback(dispose, app)  # before its database is dropped
            if revision is not None:
                with app.app_context():
                    upgrade(revision=revision)
            return app

        yield make


def _ready(app: Flask) -> tuple[int, dict[str, Any]]:
    resp = app.test_client().get("/health/ready")
    return resp.status_code, resp.get_json()


def test_a_database_at_an_older_migration_is_not_ready(fresh_app: Callable[[str | None], Flask]) -> None:
    status, body = _ready(fresh_app("0009"))
    assert status == 503 and body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok" and body["checks"]["signing_key"] == "not checked"
    head = ScriptDirectory(migrations_directory()).get_current_head()
    assert body["checks"]["schema"].startswith(f"at 0009, needs {head}") and "db upgrade" in body["checks"]["schema"]


def test_an_empty_database_is_not_ready(fresh_app: Callable[[str | None], Flask]) -> None:
    status, body = _ready(fresh_app(None))
    assert status == 503 and body["checks"]["schema"] == "not migrated: run authserver db upgrade"


def test_a_key_ring_without_an_active_key_is_not_ready_and_the_probe_makes_none(
        fresh_app: Callable[[str | None], Flask]) -> None:
    app = fresh_app("head")
    with app.app_context():
        state(app).keys.active()
        db.session.execute(update(SigningKey).values(retired_at=utcnow()))
        db.session.commit()
    status, body = _ready(app)
    alg = state(app).settings.signing_alg
    assert status == 503
    assert body["checks"] == {"database": "ok", "schema": "ok",
                              "signing_key": f"no active {alg} key: run authserver keys rotate --alg {alg}"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SigningKey).where(
            SigningKey.retired_at.is_(None))) == 0
        state(app).keys.rotate()
    assert _ready(app) == (200, {"status": "ok", "checks": READY_CHECKS})
