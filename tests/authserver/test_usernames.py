"""Usernames are one account whatever their case or Unicode form (NFKC + case folding)."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from authserver.extensions import db
from authserver.models import User
from authserver.models.users import username_key

from .authorize_helpers import sign_in


def _full_width(name: str) -> str:
    """``name`` in full-width Latin letters and digits (U+FF01..), which NFKC maps back."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


@pytest.fixture
def cli(migrated_app: Flask):
    runner = migrated_app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def test_the_key_folds_case_and_compatibility_forms() -> None:
    assert username_key("Alice") == username_key("ALICE") == username_key(_full_width("alice")) == "alice"
    assert username_key("Straße") == username_key("STRASSE")
    assert username_key("ﬁona") == "fiona"  # the "fi" ligature is two letters


def test_creating_a_user_that_differs_only_by_case_is_refused(cli, app: Flask) -> None:
    name = "Alice-" + uuid.uuid4().hex[:6]
    assert cli("users", "create", name.lower(), "--password-stdin", input="a long password\n").exit_code == 0
    for clash in (name, name.upper(), _full_width(name)):
        refused = cli("users", "create", clash, "--password-stdin", input="another password\n")
        assert refused.exit_code == 1
        assert f"a user named {name.lower()!r} already exists" in refused.stderr and repr(clash) in refused.stderr


def test_the_database_refuses_a_clash_however_the_row_arrives(app: Flask) -> None:
    """Not only the command checks: the unique key holds for any writer (two racing creates)."""
    name = "bob-" + uuid.uuid4().hex[:6]
    db.session.execute(insert(User), [{"username": name, "password_hash": "x"}])
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(User), [{"username": name.upper(), "password_hash": "x"}])
    db.session.rollback()


def test_sign_in_finds_the_account_by_any_case_or_form(app: Flask, make_user) -> None:
    name, password = make_user()
    for typed in (name.upper(), _full_width(name), name.title()):
        assert sign_in(app.test_client(), typed, password).status_code == 303, typed


def test_commands_find_the_user_by_any_case(cli, app: Flask, make_user) -> None:
    name, password = make_user()
    assert sign_in(app.test_client(), name, password).status_code == 303
    disabled = cli("users", "disable", name.upper(), "--json")
    assert disabled.exit_code == 0 and f'"username": "{name}"' in disabled.stdout
    assert sign_in(app.test_client(), name, password).status_code == 400


def test_failed_sign_ins_count_against_the_account_whatever_the_case(app: Flask, make_user) -> None:
    name, password = make_user()
    http = app.test_client()
    for typed in (name, name.upper(), name.title(), _full_width(name), name):
        assert sign_in(http, typed, "wrong password").status_code == 400
    assert sign_in(http, name.upper(), password).status_code == 429


def test_a_renamed_user_keeps_a_matching_key(app: Flask, make_user) -> None:
    from authserver.models.users import user_named

    name, password = make_user()
    user = db.session.execute(user_named(name)).scalar_one()
    user.username = "Renamed-" + name
    db.session.commit()
    assert user.username_key == "renamed-" + name
    assert sign_in(app.test_client(), "RENAMED-" + name.upper(), password).status_code == 303
