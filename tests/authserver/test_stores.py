"""authserver.stores: the database-backed store and verifier resource_guard plugs in."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

import pytest
from flask import Flask

from authserver.appstate import state
from authserver.config import ConfigError
from authserver.extensions import db
from authserver.models import APIToken, User
from authserver.models.types import utcnow
from authserver.people.api_tokens import create_api_token
from authserver.people.passwords import hash_password
from authserver.stores import APITokenStore, UserPasswordVerifier
from resource_guard import AuthResult, Guard
from resource_guard.backends import BasicAuthBackend
from tests.resource_guard.rg_testkit import basic, make_request


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


def _full_width(name: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


def _basic(verifier: UserPasswordVerifier, username: str, password: str, address: str = "192.0.2.1") -> AuthResult:
    guard = Guard([BasicAuthBackend(verifier=verifier)])
    return guard.check(make_request(basic(username, password), remote_addr=address), guard.requirement())


def test_basic_finds_the_account_whatever_the_case_or_form(app: Flask, stores) -> None:
    """As the login form does: usernames are one account under NFKC + case folding."""
    name = "Alice-" + uuid.uuid4().hex[:6]
    db.session.add(User(username=name.lower(), password_hash=hash_password("wonderland pass")))
    db.session.commit()
    for typed in (name, name.upper(), _full_width(name), name.lower()):
        result = _basic(stores[1], typed, "wonderland pass")
        assert result.ok and result.principal is not None, typed
        assert result.principal.subject == _user(name.lower()).subject
        assert result.principal.claims["username"] == name.lower()  # the account's own name
    assert _basic(stores[1], name.upper(), "Wonderland pass").status == 401


def test_case_variants_share_one_basic_budget(app: Flask, stores) -> None:
    """Matching caselessly must not multiply the guesses: ALICE, Alice, alice are one budget."""
    name = "Bob-" + uuid.uuid4().hex[:6]
    db.session.add(User(username=name.lower(), password_hash=hash_password("a right password")))
    db.session.commit()
    backend = BasicAuthBackend(verifier=stores[1])
    guard = Guard([backend])
    variants = [name, name.upper(), name.lower(), name.swapcase(), _full_width(name), name.title()]
    statuses = [guard.check(make_request(basic(v, "guess")), guard.requirement()).status for v in variants]
    assert statuses == [401] * 5 + [429]


def test_unknown_users_still_cost_a_password_verification(app: Flask, stores, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dummy hash is verified for a name with no account, so timing does not tell."""
    from argon2 import PasswordHasher

    from authserver.people import passwords

    verified: list[str] = []

    class Counting(PasswordHasher):  # the real argon2 hasher, counting what it verifies
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verified.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    assert _basic(stores[1], "Nobody-" + uuid.uuid4().hex, "guess").status == 401
    assert len(verified) == 1 and verified[0].startswith("$argon2")


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
