"""authserver.database and the token store: both write paths, outages and the idle-ping pool policy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from authserver.appstate import state
from authserver.database import configure
from authserver.extensions import db
from authserver.models import Client, Token, User
from authserver.models.types import utcnow
from authserver.oauth.token_store import insert_standalone, store_tokens
from authserver.oauth.tokens import GrantContext, Issued

from ..conftest import BACKENDS
from ..databases import PG_ADMIN, new_database


def _client_pk(client_id: str) -> int:
    return db.session.scalar(select(Client.id).where(Client.client_id == client_id))  # type: ignore[return-value]


def _row(client_pk: int, **kw: object) -> dict[str, object]:
    now = utcnow()
    return {"kind": "access", "token_hash": None, "jti": uuid.uuid4().hex, "family_id": None,
            "client_pk": client_pk, "user_id": None, "scope": "reports:read reports:write",
            "audience": ["https://a.example", "https://b.example"], "token_format": "jwt",
            "issued_at": now, "expires_at": now + timedelta(seconds=90), "family_expires_at": None,
            "remote_addr": "2001:db8::7", "request_id": "trace-" + uuid.uuid4().hex, **kw}


def _issued(client_pk: int, family_id: str | None) -> Issued:
    row = _row(client_pk, family_id=family_id)
    return Issued({}, [row], GrantContext(tuple(row["audience"]), str(row["scope"]), family_id=family_id))  # type: ignore[arg-type]


def _stored(jti: object) -> dict[str, object]:
    token = db.session.scalar(select(Token).where(Token.jti == jti))
    assert token is not None
    return {c.key: getattr(token, c.key) for c in Token.__table__.columns if c.key not in ("id", "jti")}


def test_both_write_paths_store_identical_rows_read_back_through_the_orm(app: Flask, make_client) -> None:
    client_pk = _client_pk(make_client().client_id)
    standalone, in_family = _issued(client_pk, None), _issued(client_pk, "family-1")
    in_family.rows[0].update({k: v for k, v in standalone.rows[0].items() if k not in ("jti", "family_id")})
    store_tokens(standalone, state(app).settings)
    store_tokens(in_family, state(app).settings)
    db.session.expire_all()
    a, b = _stored(standalone.rows[0]["jti"]), _stored(in_family.rows[0]["jti"])
    assert a.pop("family_id") is None and b.pop("family_id") == "family-1"
    assert a == b == {**{k: v for k, v in standalone.rows[0].items() if k not in ("jti", "family_id")},
                      "revoked_at": None, "rotated_at": None, "auth_time": None, "sid": None, "amr": None}
    token = db.session.scalar(select(Token).where(Token.jti == standalone.rows[0]["jti"]))
    assert token is not None and token.expires_at.tzinfo is not None and token.is_active(utcnow())


def test_a_family_commits_with_the_sessions_pending_claim_a_standalone_token_alone(
    app: Flask, make_client, make_user
) -> None:
    client_pk = _client_pk(make_client().client_id)
    name, _ = make_user()
    user = db.session.scalar(select(User).where(User.username == name))
    assert user is not None
    user.is_active = False  # stands for the claim a grant leaves pending in the session
    store_tokens(lone := _issued(client_pk, None), state(app).settings)
    db.session.rollback()  # the standalone INSERT was not part of the session's transaction
    assert db.session.scalar(select(Token.id).where(Token.jti == lone.rows[0]["jti"])) is not None
    assert db.session.scalar(select(User.is_active).where(User.username == name)) is True
    user = db.session.scalar(select(User).where(User.username == name))
    assert user is not None
    user.is_active = False
    store_tokens(_issued(client_pk, "family-2"), state(app).settings)
    db.session.rollback()  # nothing left to roll back: the claim committed with the tokens
    assert db.session.scalar(select(User.is_active).where(User.username == name)) is False


@pytest.mark.parametrize("family_id", [None, "family-3"])
def test_write_errors_are_sqlalchemys_without_bound_values(app: Flask, make_client, family_id: str | None) -> None:
    client_pk = _client_pk(make_client().client_id)
    store_tokens(_issued(client_pk, family_id), state(app).settings)
    with pytest.raises(IntegrityError) as raised:
        store_tokens(_issued(client_pk + 10_000, family_id), state(app).settings)  # no such client
    db.session.rollback()
    assert "parameters hidden" in str(raised.value)  # bound values stay out of messages and logs
    store_tokens(_issued(client_pk, family_id), state(app).settings)  # the pool's connections still work


def test_a_database_that_refuses_the_connection_is_sqlalchemys_operational_error(
    app: Flask, make_client, server_settings: dict[str, Any], tmp_path: Path
) -> None:
    """The standalone path checks a connection out itself: a refused connection must still
    surface as SQLAlchemy's OperationalError (the 503 handler's), not the driver's own."""
    client_pk = _client_pk(make_client().client_id)
    url = server_settings["database_url"]
    unreachable = (f"sqlite:///{tmp_path}/missing/dir/x.sqlite3" if url.startswith("sqlite")
                   else url.rsplit("/", 1)[0] + "/no_such_database_" + uuid.uuid4().hex[:8])
    engine = configure(create_engine(unreachable))
    try:
        with pytest.raises(OperationalError):
            insert_standalone(engine, _row(client_pk))
    finally:
        engine.dispose()


def _terminate_backends(database: str) -> int:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
    return len(rows)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="only a database server can drop a connection")
@pytest.mark.parametrize("idle_before_ping", [0.0, 3600.0])
def test_an_idle_connection_is_pinged_and_replaced_after_the_database_drops_it(
    tmp_path: Path, idle_before_ping: float
) -> None:
    with new_database("postgresql", tmp_path) as url:
        engine = configure(create_engine(url, pool_size=1), ping_after_idle=idle_before_ping)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            assert _terminate_backends(url.rsplit("/", 1)[1]) == 1
            if idle_before_ping > 0:  # within the trusted window the dead connection is handed out
                with pytest.raises(OperationalError), engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            else:
                with engine.connect() as conn:
                    assert conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()


def test_session_errors_do_not_carry_bound_values(app: Flask, make_user) -> None:
    name, _ = make_user()
    with pytest.raises(IntegrityError) as raised:
        db.session.execute(insert(User), [{"username": name, "password_hash": "x"}])
    db.session.rollback()
    assert name not in str(raised.value).split("[SQL")[1] and "parameters hidden" in str(raised.value)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="only a database server can drop a connection")
def test_a_dropped_database_connection_is_a_503_then_the_pool_recovers(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from authserver import create_app
    from authserver.clients.metadata import ClientMetadata
    from authserver.clients.registry import register_client

    with new_database("postgresql", tmp_path) as url:
        app = create_app({"database_url": url, "instance_path": str(tmp_path / "instance"),
                          "secret_key": "outage-" + uuid.uuid4().hex, "db_ping_after_idle": 3600})
        with app.app_context():
            upgrade()
            metadata = ClientMetadata(client_name="o", grant_types=("client_credentials",), scope="reports:read")
            client, secret = register_client(state(app).hasher, metadata)
            client_id = client.client_id
            db.session.remove()
        http = app.test_client()

        def token() -> Any:
            return http.post("/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret))

        assert token().status_code == 200
        assert _terminate_backends(url.rsplit("/", 1)[1]) >= 1
        failed = token()
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
        assert failed.json == {"error": "temporarily_unavailable",
                               "error_description": "The server cannot reach its database; retry."}
        assert token().status_code == 200
        with app.app_context():
            db.engine.dispose()


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="only a database server can drop a connection")
def test_a_connection_killed_before_the_request_ends_still_answers_what_the_request_made(tmp_path: Path) -> None:
    """The database terminates the request's connection after its work but before the session is
    closed: the ROLLBACK at teardown fails, and that must not turn the answer into a bare 500."""
    from authserver import create_app

    with new_database("postgresql", tmp_path) as url:
        app = create_app({"database_url": url, "instance_path": str(tmp_path / "instance"),
                          "secret_key": "teardown-" + uuid.uuid4().hex})
        name = url.rsplit("/", 1)[1]

        @app.get("/__in_a_transaction")
        def in_a_transaction() -> str:
            db.session.execute(text("SELECT 1"))  # the session now holds a connection in a transaction
            assert _terminate_backends(name) >= 1
            return "made"

        answer = app.test_client().get("/__in_a_transaction")
        assert answer.status_code == 200 and answer.get_data(as_text=True) == "made"
        with app.app_context():
            assert db.session.execute(text("SELECT 2")).scalar() == 2  # the pool replaced the connection
            db.session.remove()
            db.engine.dispose()
