"""The migrations build the schema the models describe, keep data across upgrades, and
give token lookups the indexes they need (on both backends)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.exc import IntegrityError

from authserver import create_app
from authserver.extensions import db
from authserver.models import Token
from authserver.models.types import utcnow
from authserver.registration import register_client

from ..conftest import BACKENDS, new_database


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


def test_migrated_schema_matches_the_models(empty_app: Flask) -> None:
    upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_upgrade_keeps_tokens_and_their_uniqueness(empty_app: Flask) -> None:
    upgrade(revision="0001")
    client, _ = register_client(empty_app.extensions["authserver"].hasher, "m", ["client_credentials"], "reports:read")
    rows = [_token(client.id, jti="a" * 32), _token(client.id, jti="b" * 32),
            _token(client.id, kind="refresh", token_hash="c" * 64, family_id="f1")]
    db.session.execute(insert(Token.__table__), rows)
    db.session.commit()

    upgrade()
    kept = db.session.execute(select(Token.jti, Token.token_hash).order_by(Token.id)).all()
    assert [tuple(r) for r in kept] == [("a" * 32, None), ("b" * 32, None), (None, "c" * 64)]
    for duplicate in ({"jti": "a" * 32}, {"token_hash": "c" * 64}):
        with pytest.raises(IntegrityError):
            db.session.execute(insert(Token.__table__), [_token(client.id, **duplicate)])
        db.session.rollback()

    downgrade(revision="0001")
    upgrade()
    assert db.session.scalar(select(Token.jti).where(Token.token_hash == "c" * 64)) is None
    assert db.session.scalar(select(Token.kind).where(Token.jti == "b" * 32)) == "access"


def _plan(conn: Connection, sql: str) -> str:
    """The query plan of ``sql``; PostgreSQL is told to avoid sequential scans, so a small
    table still shows whether an index can serve the query at all."""
    if conn.dialect.name == "sqlite":
        return " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    conn.execute(text("SET enable_seqscan = off"))
    return " ".join(str(r[0]) for r in conn.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize(("where", "index"), [
    ("token_hash = 'x'", "uq_tokens_token_hash"),
    ("jti = 'x'", "uq_tokens_jti"),
    ("family_id = 'x'", "ix_tokens_family_id"),
    ("client_pk = 1", "ix_tokens_client_pk"),
    ("user_id = 1", "ix_tokens_user_id"),
    ("expires_at < '2000-01-01'", "ix_tokens_expires_at"),
])
def test_token_lookups_use_an_index(empty_app: Flask, where: str, index: str) -> None:
    upgrade()
    with db.engine.connect() as conn:
        assert index in _plan(conn, f"SELECT id FROM tokens WHERE {where}")
