"""Which token writes may commit asynchronously on PostgreSQL: a client-credentials access
token by default, nothing once ``durable_access_tokens`` is set, and never a transaction that
writes a refresh token. A trigger on the tokens table records ``synchronous_commit`` as the
issuing transaction itself sees it, so each test reads what the database did."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from authserver import create_app
from authserver.config import ConfigError, load_settings
from authserver.extensions import db

from .authorize_helpers import REDIRECT, signed_in_flow
from .helpers import token


@pytest.fixture
def seen(migrated_app: Flask) -> Iterator[str]:
    """A table filled, inside each transaction that inserts a token, with the row's kind and the
    ``synchronous_commit`` in force there; dropped with its trigger afterwards."""
    if migrated_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("synchronous_commit is PostgreSQL's; SQLite commits as it always does")
    name = "seen_" + uuid.uuid4().hex[:8]
    with migrated_app.app_context():
        db.session.execute(text(f"CREATE TABLE {name} (kind text, synchronous_commit text)"))
        db.session.execute(text(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO {name} VALUES (NEW.kind, current_setting('synchronous_commit')); RETURN NEW; END $$"
        ))
        db.session.execute(text(f"CREATE TRIGGER {name} AFTER INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION {name}()"))
        db.session.commit()
    yield name
    with migrated_app.app_context():
        db.session.execute(text(f"DROP TRIGGER {name} ON tokens"))
        db.session.execute(text(f"DROP FUNCTION {name}()"))
        db.session.execute(text(f"DROP TABLE {name}"))
        db.session.commit()


def _seen(app: Flask, table: str) -> list[tuple[str, str]]:
    with app.app_context():
        return [(r.kind, r.synchronous_commit) for r in db.session.execute(text(f"SELECT * FROM {table}"))]


def _server_default(app: Flask) -> str:
    with app.app_context():
        return str(db.session.scalar(text("SHOW synchronous_commit")))


def test_client_credentials_issuance_commits_asynchronously_by_default(migrated_app: Flask, make_client, seen) -> None:
    client = make_client()
    for token_format in ("jwt", "opaque"):
        assert token(migrated_app, make_client(token_format=token_format).basic).status_code == 200
    assert token(migrated_app, client.basic).status_code == 200
    assert _seen(migrated_app, seen) == [("access", "off")] * 3
    assert _server_default(migrated_app) == "on"  # the setting held for those transactions alone


def test_durable_access_tokens_wait_for_the_flush(migrated_app: Flask, server_settings: dict[str, Any],
                                                   make_client, seen) -> None:
    durable = create_app({**server_settings, "durable_access_tokens": True})
    answer = token(durable, make_client().basic)
    assert answer.status_code == 200 and answer.get_json()["access_token"]
    assert _seen(migrated_app, seen) == [("access", _server_default(migrated_app))] == [("access", "on")]


def test_a_transaction_writing_a_refresh_token_stays_synchronous(migrated_app: Flask, make_client, make_user,
                                                                  seen) -> None:
    public = make_client(grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT], public=True)
    flow = signed_in_flow(migrated_app, make_user, public.client_id)
    answer = flow.redeem(flow.code())
    assert answer.status_code == 200 and answer.get_json()["refresh_token"].startswith("asrt_")
    refreshed = migrated_app.test_client().post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": answer.get_json()["refresh_token"],
        "client_id": public.client_id})
    assert refreshed.status_code == 200
    assert sorted(_seen(migrated_app, seen)) == [("access", "on")] * 2 + [("refresh", "on")] * 2


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("false", False), ("0", False)])
def test_the_setting_reads_from_the_environment(value: str, expected: bool) -> None:
    settings = load_settings({"secret_key": "x"}, {"AUTHSERVER_DURABLE_ACCESS_TOKENS": value})
    assert settings.durable_access_tokens is expected


def test_a_setting_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ConfigError, match="durable_access_tokens must be true or false, got 'sometimes'"):
        load_settings({"secret_key": "x"}, {"AUTHSERVER_DURABLE_ACCESS_TOKENS": "sometimes"})
