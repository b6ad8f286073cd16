"""The command line: records with --json, secrets shown once, errors on stderr."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import Token
from authserver.models.types import utcnow

from .helpers import introspect, token


@pytest.fixture
def cli(migrated_app: Flask):
    runner = migrated_app.test_cli_runner()

    def run(*args: str, input: str | None = None, ok: bool = True):
        result = runner.invoke(args=list(args), input=input)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return run


def _json(result) -> Any:
    return json.loads(result.stdout)


def test_clients_create_prints_the_secret_once(cli, app: Flask) -> None:
    created = _json(
        cli("clients", "create", "--name", "billing", "--scope", "a b", "--audience", "https://api", "--json")
    )
    assert created["client_secret"].startswith("ascs_")
    assert created["grant_types"] == ["client_credentials"] and created["scope"] == "a b"
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    shown = _json(cli("clients", "show", created["client_id"], "--json"))
    assert "client_secret" not in shown and shown["audiences"] == ["https://api"]
    listed = _json(cli("clients", "list", "--json"))
    assert created["client_id"] in [c["client_id"] for c in listed]
    assert created["client_secret"] not in cli("clients", "list").stdout
    assert token(app, (created["client_id"], created["client_secret"])).status_code == 200


def test_require_pkce_is_shown_only_where_codes_are_issued(cli) -> None:
    machine = _json(cli("clients", "create", "--name", "machine", "--json"))
    assert machine["require_pkce"] is False
    web = _json(cli("clients", "create", "--name", "web", "--grant-type", "authorization_code",
                    "--redirect-uri", "https://app.example/cb", "--json"))
    assert web["require_pkce"] is True


def test_rotate_secret_invalidates_the_old_one(cli, app: Flask) -> None:
    created = _json(cli("clients", "create", "--name", "svc", "--json"))
    rotated = _json(cli("clients", "rotate-secret", created["client_id"], "--json"))
    assert rotated["client_secret"] != created["client_secret"]
    assert token(app, (created["client_id"], created["client_secret"])).status_code == 401
    assert token(app, (created["client_id"], rotated["client_secret"])).status_code == 200


def test_delete_removes_the_client_and_its_tokens(cli, app: Flask) -> None:
    created = _json(cli("clients", "create", "--name", "gone", "--json"))
    creds = (created["client_id"], created["client_secret"])
    value = token(app, creds).get_json()["access_token"]
    cli("clients", "delete", created["client_id"])
    other = _json(cli("clients", "create", "--name", "rs", "--json"))
    assert introspect(app, (other["client_id"], other["client_secret"]), value).get_json() == {"active": False}
    missing = cli("clients", "show", created["client_id"], ok=False)
    assert missing.exit_code != 0 and "no client" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grant-type", "authorization_code"], "redirect-uri"),
        (["--public"], "public client cannot use client_credentials"),
        (["--grant-type", "authorization_code", "--redirect-uri", "http://evil.example/cb"], "https"),
        (["--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb#frag"], "fragment"),
        (["--grant-type", "refresh_token"], "refresh_token only comes with authorization_code"),
    ],
)
def test_clients_create_refuses_bad_registrations(cli, args: list[str], message: str) -> None:
    result = cli("clients", "create", "--name", "bad", *args, ok=False)
    assert result.exit_code != 0
    assert message in result.stderr and result.stdout == ""


def test_users_lifecycle(cli) -> None:
    created = _json(cli("users", "create", "alice-cli", "--password-stdin", "--json", input="a long password\n"))
    assert created["username"] == "alice-cli" and created["active"] is True
    assert "alice-cli" in [u["username"] for u in _json(cli("users", "list", "--json"))]
    short = cli("users", "create", "bob-cli", "--password-stdin", input="short\n", ok=False)
    assert short.exit_code != 0 and "at least" in short.stderr
    dup = cli("users", "create", "alice-cli", "--password-stdin", input="another password\n", ok=False)
    assert "already exists" in dup.stderr
    cli("users", "set-password", "alice-cli", "--password-stdin", input="a new long password\n")
    assert _json(cli("users", "disable", "alice-cli", "--json"))["active"] is False


def test_keys_list_and_rotate(cli) -> None:
    rotated = _json(cli("keys", "rotate", "--json"))
    assert rotated[0]["alg"] == "ES256"  # the access-token algorithm comes first
    listed = _json(cli("keys", "list", "--json"))
    states = {k["kid"]: k["state"] for k in listed}
    assert all(states[k["kid"]] == "active" for k in rotated)
    active = [k["alg"] for k in listed if k["state"] == "active"]
    assert sorted(active) == sorted(k["alg"] for k in rotated)  # one active key per algorithm
    assert "published" in states.values()


def test_tokens_revoke_by_token_and_by_client(cli, app: Flask) -> None:
    created = _json(cli("clients", "create", "--name", "rev", "--json"))
    creds = (created["client_id"], created["client_secret"])
    first, second = (token(app, creds).get_json()["access_token"] for _ in range(2))
    cli("tokens", "revoke", "--token", "-", input=first + "\n")
    assert introspect(app, creds, first).get_json() == {"active": False}
    assert introspect(app, creds, second).get_json()["active"] is True
    assert _json(cli("tokens", "revoke", "--client", created["client_id"], "--json"))["revoked"] == 1
    assert introspect(app, creds, second).get_json() == {"active": False}
    assert cli("tokens", "revoke", ok=False).exit_code != 0


def test_tokens_purge_deletes_expired_rows_in_batches(cli, app: Flask) -> None:
    created = _json(cli("clients", "create", "--name", "purge", "--json"))
    creds = (created["client_id"], created["client_secret"])
    live = token(app, creds).get_json()["access_token"]
    for _ in range(5):
        token(app, creds)
    rows = db.session.scalars(select(Token).where(Token.client.has(client_id=created["client_id"]))).all()
    for row in rows[1:]:  # ended days ago: on PostgreSQL, today's day partition goes only tomorrow
        row.expires_at = utcnow() - timedelta(days=2)
    db.session.commit()
    report = _json(cli("tokens", "purge", "--batch-size", "2", "--json"))
    assert report["tokens_deleted"] >= 5
    assert introspect(app, creds, live).get_json()["active"] is True
    db.session.expire_all()
    assert db.session.scalar(select(Token).where(Token.expires_at <= utcnow())) is None


def test_api_tokens_lifecycle(cli) -> None:
    cli("users", "create", "carol-cli", "--password-stdin", input="a long password\n")
    policy = '{"resources": {"*": {"allow": ["GET"], "block": ["*"]}}}'
    created = _json(
        cli("api-tokens", "create", "carol-cli", "--policy", policy, "--expires-in", "600", "--note", "ci", "--json")
    )
    assert created["token"].startswith("asapi_") and created["policy"]["resources"]["*"]["allow"] == ["GET"]
    listed = _json(cli("api-tokens", "list", "carol-cli", "--json"))
    assert [t["id"] for t in listed] == [created["id"]] and "token" not in listed[0]
    assert listed[0]["prefix"] == created["token"][:12]
    revoked = _json(cli("api-tokens", "revoke", str(created["id"]), "--reason", "leaked", "--json"))
    assert revoked["valid"] is False and revoked["invalid_reason"] == "leaked"
    bad = cli("api-tokens", "create", "carol-cli", "--policy", "{not json", ok=False)
    assert bad.exit_code != 0 and "policy" in bad.stderr


def test_clients_are_given_introspection_at_registration_or_later(cli, app: Flask) -> None:
    owner = _json(cli("clients", "create", "--name", "app", "--audience", "https://api.example", "--json"))
    value = token(app, (owner["client_id"], owner["client_secret"])).get_json()["access_token"]
    rs = _json(cli("clients", "create", "--name", "api", "--resource-server", "https://api.example", "--json"))
    shown = _json(cli("clients", "show", rs["client_id"], "--json"))
    assert shown["resource_servers"] == ["https://api.example"] and shown["introspect_any"] is False
    assert introspect(app, (rs["client_id"], rs["client_secret"]), value).get_json()["active"] is True

    other = _json(cli("clients", "create", "--name", "gw", "--json"))
    creds = (other["client_id"], other["client_secret"])
    assert introspect(app, creds, value).get_json() == {"active": False}
    updated = _json(cli("clients", "update", other["client_id"], "--introspect-any", "--json"))
    assert updated["introspect_any"] is True
    assert re.search(r"^introspect_any +True$", cli("clients", "show", other["client_id"]).stdout, re.M)
    assert introspect(app, creds, value).get_json()["active"] is True
    cli("clients", "update", other["client_id"], "--no-introspect-any", "--resource-server", "https://api.example")
    assert introspect(app, creds, value).get_json()["active"] is True
    cli("clients", "update", other["client_id"], "--no-resource-servers")
    assert introspect(app, creds, value).get_json() == {"active": False}

    public = cli("clients", "create", "--name", "cli", "--public", "--grant-type", "authorization_code",
                 "--redirect-uri", "http://127.0.0.1/cb", "--introspect-any", ok=False)
    assert public.exit_code == 1 and "public client cannot introspect" in public.stderr
    spaced = cli("clients", "create", "--name", "x", "--resource-server", "https://a b", ok=False)
    assert spaced.exit_code == 1 and "must be one word" in spaced.stderr
