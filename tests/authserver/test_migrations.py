"""The migrations build the schema the models describe, keep data across upgrades, and
give token lookups the indexes they need (on both backends)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import JSON, Boolean, Connection, DateTime, column, func, insert, inspect, select, table, text, update
from sqlalchemy.exc import IntegrityError

from authserver import create_app
from authserver.extensions import db
from authserver.models import Client, Session, Token, User
from authserver.models.types import utcnow
from authserver.partitions import is_partition

from ..conftest import BACKENDS
from ..databases import new_database
from .helpers import introspect, revoke, token


@pytest.fixture(params=BACKENDS)
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on a database with no tables yet."""
    with new_database(request.param, tmp_path) as url:
        app = create_app({"database_url": url, "instance_path": str(tmp_path / "instance"),
                          "secret_key": "migrations-" + uuid.uuid4().hex})
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def _token(client_pk: int, **kw: Any) -> dict[str, Any]:
    now = utcnow()
    row = {"kind": "access", "token_hash": None, "jti": None, "family_id": None, "client_pk": client_pk,
           "user_id": None, "scope": "reports:read", "audience": ["https://api.example"], "token_format": "jwt",
           "issued_at": now, "expires_at": now, "family_expires_at": None}
    return {**row, **kw}


FULL_WIDTH_BOB = "\uff22\uff2f\uff22"  # NFKC: "BOB"
FULL_WIDTH_CAROL = "\uff23\uff21\uff32\uff2f\uff2c"  # NFKC: "CAROL"


def _old_client() -> int:
    """A client row as revisions 0001 and 0002 store it (the models describe the newest)."""
    now = utcnow()
    clients = table("clients", *(column(c) for c in (
        "client_id", "client_secret_hash", "name", "scope", "token_endpoint_auth_method", "token_format")),
        column("grant_types", JSON), column("redirect_uris", JSON), column("audiences", JSON),
        column("require_pkce", Boolean), column("created_at", DateTime(timezone=True)),
        column("updated_at", DateTime(timezone=True)))
    db.session.execute(insert(clients), [{
        "client_id": "old-" + uuid.uuid4().hex[:8], "client_secret_hash": "h" * 64, "name": "old", "scope": "a",
        "token_endpoint_auth_method": "client_secret_basic", "token_format": None,
        "grant_types": ["client_credentials"], "redirect_uris": [], "audiences": ["https://api.example"],
        "require_pkce": True, "created_at": now, "updated_at": now}])
    client_pk = int(db.session.scalar(text("SELECT max(id) FROM clients")))
    db.session.commit()  # holding no lock, so the migration may alter the table
    return client_pk


def _old_users(*names: str) -> None:
    users = table("users", column("username"), column("password_hash"), column("is_active", Boolean),
                  column("created_at", DateTime(timezone=True)))
    db.session.execute(insert(users), [{"username": n, "password_hash": "x", "is_active": True, "created_at": utcnow()}
                                       for n in names])
    db.session.commit()


def _users_at_0003(*names: str) -> None:
    """Users as revisions 0003 to 0005 store them: with their key, without profile claims."""
    users = table("users", column("username"), column("username_key"), column("password_hash"),
                  column("is_active", Boolean), column("created_at", DateTime(timezone=True)))
    db.session.execute(insert(users), [{"username": n, "username_key": n.casefold(), "password_hash": "x",
                                        "is_active": True, "created_at": utcnow()} for n in names])
    db.session.commit()


def _not_a_partition(name: str | None, type_: str, parent_names: object) -> bool:
    return type_ != "table" or not is_partition(name or "")


def test_migrated_schema_matches_the_models(empty_app: Flask) -> None:
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _not_a_partition})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_upgrade_keeps_live_tokens(empty_app: Flask) -> None:
    upgrade(revision="0001")
    client_pk = _old_client()
    live = utcnow() + timedelta(hours=1)
    rows = [_token(client_pk, jti="a" * 32, expires_at=live), _token(client_pk, jti="b" * 32, expires_at=live),
            _token(client_pk, kind="refresh", token_hash="c" * 64, family_id="f1", expires_at=live),
            _token(client_pk, jti="d" * 32)]  # expired: what a purge removes
    db.session.execute(insert(Token.__table__), rows)
    db.session.commit()

    upgrade()
    kept = db.session.execute(select(Token.jti, Token.token_hash).order_by(Token.id)).all()
    expected = [("a" * 32, None), ("b" * 32, None), (None, "c" * 64)]
    if db.engine.dialect.name == "sqlite":  # a plain table, kept as it was
        expected.append(("d" * 32, None))
    assert [tuple(r) for r in kept] == expected
    db.session.rollback()  # holding no lock, so the downgrade may replace the table

    downgrade(revision="0001")
    upgrade()
    assert db.session.scalar(select(Token.jti).where(Token.token_hash == "c" * 64)) is None
    assert db.session.scalar(select(Token.kind).where(Token.jti == "b" * 32)) == "access"


def test_tokens_issued_before_partitioning_keep_working(empty_app: Flask) -> None:
    """0012 changes no column, so today's code issues against 0011's schema: what a server
    issued before the upgrade introspects, revokes and purges as before after it."""
    upgrade(revision="0011")
    runner = empty_app.test_cli_runner()
    created = json.loads(runner.invoke(args=["clients", "create", "--name", "m", "--introspect-any",
                                             "--token-format", "opaque", "--json"]).output)
    creds = (created["client_id"], created["client_secret"])
    kept, revoked, expired = (token(empty_app, creds).get_json()["access_token"] for _ in range(3))
    db.session.execute(update(Token).where(Token.id == db.session.scalar(select(func.max(Token.id))))
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    db.session.remove()
    upgrade()
    assert introspect(empty_app, creds, kept).get_json()["active"] is True
    assert introspect(empty_app, creds, expired).get_json() == {"active": False}
    assert revoke(empty_app, creds, revoked).status_code == 200
    assert introspect(empty_app, creds, revoked).get_json() == {"active": False}
    fresh = token(empty_app, creds).get_json()["access_token"]
    assert introspect(empty_app, creds, fresh).get_json()["active"] is True
    if db.engine.dialect.name == "postgresql":
        assert _partitioned() == {"tokens", "authorization_codes", "audit_events"}


def _partitioned() -> set[str]:
    return set(db.session.scalars(text("SELECT partrelid::regclass::text FROM pg_partitioned_table")))


def test_downgrade_gives_plain_tables_back_with_every_row(empty_app: Flask) -> None:
    upgrade()
    runner = empty_app.test_cli_runner()
    created = json.loads(runner.invoke(args=["clients", "create", "--name", "m", "--introspect-any",
                                             "--token-format", "opaque", "--json"]).output)
    creds = (created["client_id"], created["client_secret"])
    value = token(empty_app, creds).get_json()["access_token"]
    db.session.remove()
    downgrade(revision="0011")
    if db.engine.dialect.name == "postgresql":
        assert _partitioned() == set()
    assert db.session.scalar(select(func.count()).select_from(Token)) == 1
    db.session.remove()
    upgrade()
    assert introspect(empty_app, creds, value).get_json()["active"] is True


def test_upgrade_gives_existing_users_and_clients_their_new_columns(empty_app: Flask) -> None:
    upgrade(revision="0002")
    _old_users("Alice", FULL_WIDTH_BOB, "straße")
    client_pk = _old_client()

    upgrade()
    keys = dict(db.session.execute(select(User.username, User.username_key)).all())
    assert keys == {"Alice": "alice", FULL_WIDTH_BOB: "bob", "straße": "strasse"}
    client = db.session.get_one(Client, client_pk)
    assert (client.resource_servers, client.introspect_any, client.audiences) == ([], False, ["https://api.example"])
    db.session.rollback()
    with pytest.raises(IntegrityError):  # "ALICE" is the account "Alice" already is
        db.session.execute(insert(User), [{"username": "ALICE", "password_hash": "x"}])
    db.session.rollback()

    downgrade(revision="0002")
    assert "username_key" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
    upgrade()
    assert db.session.scalar(select(User.username_key).where(User.username == FULL_WIDTH_BOB)) == "bob"


def test_upgrade_refuses_usernames_that_already_clash_and_changes_nothing(
    empty_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(revision="0002")
    _old_users("alice", "Alice", "carol", FULL_WIDTH_CAROL, "dave")
    with pytest.raises(SystemExit):  # what `authserver db upgrade` does: the message, exit status 1
        upgrade()
    message = caplog.text
    assert "differ only by case or Unicode form" in message
    assert all(repr(name) in message for name in ("alice", "Alice", "carol", FULL_WIDTH_CAROL))
    assert "'dave'" not in message
    db.session.remove()
    assert "username_key" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
    assert not inspect(db.engine).has_table("scopes")
    db.session.execute(text("UPDATE users SET username = 'alice2' WHERE username = 'Alice'"))
    db.session.execute(text("DELETE FROM users WHERE username = 'carol'"))
    db.session.commit()
    upgrade()
    assert db.session.scalar(select(User.username).where(User.username_key == "carol")) == FULL_WIDTH_CAROL


def test_sessions_table_comes_and_goes_without_touching_other_rows(empty_app: Flask) -> None:
    upgrade(revision="0003")
    _users_at_0003("erin")
    upgrade()
    user_id = db.session.scalar(select(User.id).where(User.username == "erin"))
    now = utcnow()
    db.session.execute(insert(Session), [{
        "secret_hash": "s" * 64, "public_id": "p1", "user_id": user_id, "auth_time": now, "amr": ["pwd"],
        "created_at": now, "last_seen_at": now, "expires_at": now, "device": "", "ip_prefix": ""}])
    db.session.commit()
    with pytest.raises(IntegrityError):  # one row per secret
        db.session.execute(insert(Session), [{
            "secret_hash": "s" * 64, "public_id": "p2", "user_id": user_id, "auth_time": now, "amr": [],
            "created_at": now, "last_seen_at": now, "expires_at": now, "device": "", "ip_prefix": ""}])
    db.session.rollback()

    downgrade(revision="0003")
    assert not inspect(db.engine).has_table("sessions")
    upgrade()
    assert db.session.scalar(select(User.username).where(User.id == user_id)) == "erin"
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_registration_columns_and_tables_come_and_go_keeping_clients(empty_app: Flask) -> None:
    upgrade(revision="0002")
    client_pk = _old_client()
    upgrade(revision="0004")
    upgrade()
    client = db.session.get_one(Client, client_pk)
    assert (client.registered_by, client.jwks, client.jwks_uri, client.registration_token_hash) == (
        "admin", None, None, None)
    db.session.rollback()
    for name in ("registration_tokens", "used_assertions", "registration_attempts"):
        assert inspect(db.engine).has_table(name)
    downgrade(revision="0004")
    assert not inspect(db.engine).has_table("used_assertions")
    assert "registered_by" not in {c["name"] for c in inspect(db.engine).get_columns("clients")}
    upgrade()
    assert db.session.get_one(Client, client_pk).name == "old"


def _plan(conn: Connection, sql: str) -> str:
    """The query plan of ``sql``; PostgreSQL is told to avoid sequential scans, so a small
    table still shows whether an index can serve the query at all."""
    if conn.dialect.name == "sqlite":
        return " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    conn.execute(text("SET enable_seqscan = off"))
    return " ".join(str(r[0]) for r in conn.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize(("table_name", "where", "index"), [
    ("tokens", "token_hash = 'x'", "ix_tokens_token_hash"),
    ("tokens", "jti = 'x'", "ix_tokens_jti"),
    ("authorization_codes", "code_hash = 'x'", "ix_authorization_codes_code_hash"),
    ("tokens", "family_id = 'x'", "ix_tokens_family_id"),
    ("tokens", "client_pk = 1", "ix_tokens_client_pk"),
    ("tokens", "user_id = 1", "ix_tokens_user_id"),
    ("tokens", "expires_at < '2000-01-01'", "ix_tokens_expires_at"),
    ("sessions", "secret_hash = 'x'", "secret_hash"),  # every page view: the cookie's session
    ("sessions", "user_id = 1", "ix_sessions_user_id"),
    ("sessions", "expires_at < '2000-01-01'", "ix_sessions_expires_at"),
    ("sessions", "ended_at IS NOT NULL", "ix_sessions_ended_at"),
])
def test_lookups_use_an_index(empty_app: Flask, table_name: str, where: str, index: str) -> None:
    upgrade()
    with db.engine.connect() as conn:
        plan = _plan(conn, f"SELECT id FROM {table_name} WHERE {where}")
    # A day-partitioned table's partitions have the parent's index under their own names.
    column = where.split()[0]
    assert index in plan or ("Seq Scan" not in plan and re.search(rf"_(p\d{{8}}|default)_{column}_idx", plan))


def test_profile_claims_and_logout_uris_come_and_go_keeping_rows(empty_app: Flask) -> None:
    upgrade(revision="0002")
    client_pk = _old_client()
    upgrade(revision="0004")
    _users_at_0003("frank")

    upgrade()
    user = db.session.scalar(select(User).where(User.username == "frank"))
    assert user is not None
    assert (user.email, user.email_verified, user.name) == (None, False, None)
    assert user.updated_at == user.created_at  # the profile is as old as the account
    assert db.session.get_one(Client, client_pk).post_logout_redirect_uris == []
    user.email, user.email_verified = "frank@example.com", True
    db.session.commit()

    downgrade(revision="0004")
    assert not {"email", "email_verified", "name", "updated_at"} & {
        c["name"] for c in inspect(db.engine).get_columns("users")}
    assert "post_logout_redirect_uris" not in {c["name"] for c in inspect(db.engine).get_columns("clients")}
    upgrade()
    db.session.expire_all()
    assert db.session.scalar(select(User.email).where(User.username == "frank")) is None
