"""authserver.stores: the database-backed store and verifier resource_guard plugs in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from authserver.api_tokens import create_api_token
from authserver.appstate import state
from authserver.config import ConfigError
from authserver.extensions import db
from authserver.models import APIToken, User
from authserver.models.types import utcnow
from authserver.stores import APITokenStore, UserPasswordVerifier


@pytest.fixture
def stores(migrated_app: Flask, server_settings: dict[str, Any]) -> tuple[APITokenStore, UserPasswordVerifier]:
    url, secret = server_settings["database_url"], server_settings["secret_key"]
    return APITokenStore(url, secret_key=secret), UserPasswordVerifier(url, secret_key=secret)


def _user(name: str) -> User:
    return db.session.query(User).filter_by(username=name).one()


def test_api_token_lookup_returns_the_record(app: Flask, make_user, stores) -> None:
    name, _ = make_user()
    policy = {"resources": {"*": {"allow": ["GET"], "block": ["*"]}}}
    row, value = create_api_token(state(app).hasher, _user(name), policy, 600, "ci")
    record = stores[0].lookup(value)
    assert record is not None
    assert record.id == str(row.id) and record.subject == _user(name).subject
    assert record.valid and record.policy == policy and record.claims["username"] == name
    assert record.expires is not None and record.expires - utcnow() <= timedelta(seconds=600)


def test_unknown_malformed_and_disabled_user_tokens_are_not_found(app: Flask, make_user, stores) -> None:
    name, _ = make_user()
    _, value = create_api_token(state(app).hasher, _user(name))
    assert stores[0].lookup(value[:-1] + ("0" if value[-1] != "0" else "1")) is None
    assert stores[0].lookup("asapi_" + "A" * 36) is None
    assert stores[0].lookup("") is None
    _user(name).is_active = False
    db.session.commit()
    assert stores[0].lookup(value) is None


def test_touch_last_used_records_the_time(app: Flask, make_user, stores) -> None:
    name, _ = make_user()
    row, _ = create_api_token(state(app).hasher, _user(name))
    when = utcnow().replace(microsecond=0)
    stores[0].touch_last_used(str(row.id), when)
    db.session.expire_all()
    assert db.session.get_one(APIToken, row.id).last_used == when


def test_password_verifier(app: Flask, make_user, stores) -> None:
    name, password = make_user()
    verified = stores[1].verify(name, password)
    assert verified is not None and verified.subject == _user(name).subject and verified.claims["username"] == name
    assert stores[1].verify(name, password + "x") is None
    assert stores[1].verify("nobody-" + name, password) is None
    _user(name).is_active = False
    db.session.commit()
    assert stores[1].verify(name, password) is None


def test_a_store_without_the_server_secret_refuses_to_start(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret of its own would turn every API token into "Invalid API token."."""
    monkeypatch.delenv("AUTHSERVER_SECRET_KEY", raising=False)
    monkeypatch.setenv("AUTHSERVER_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    for store in (APITokenStore, UserPasswordVerifier):
        with pytest.raises(ConfigError, match="AUTHSERVER_SECRET_KEY"):
            store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert not (tmp_path / "elsewhere").exists()


def test_a_store_reads_the_instance_secret_the_server_wrote(
    app: Flask, make_user, server_settings: dict[str, Any], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTHSERVER_SECRET_KEY", raising=False)
    monkeypatch.setenv("AUTHSERVER_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "secret_key").write_text(server_settings["secret_key"] + "\n")
    name, _ = make_user()
    _, value = create_api_token(state(app).hasher, _user(name))
    assert APITokenStore(server_settings["database_url"]).lookup(value) is not None
