"""The command line sets the OpenID Connect profile of users (email, email_verified, name) and
the post-logout redirect URIs of clients, refusing bad values before writing anything."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask


@pytest.fixture
def cli(migrated_app: Flask):
    runner = migrated_app.test_cli_runner()

    def run(*args: str, input: str | None = None, ok: bool = True):
        result = runner.invoke(args=list(args), input=input)
        assert (result.exit_code == 0) is ok, result.output + result.stderr
        return result

    return run


def _json(result) -> Any:
    return json.loads(result.stdout)


def _name() -> str:
    return "p-" + uuid.uuid4().hex[:8]


def test_create_with_a_profile_and_show_it(cli) -> None:
    name = _name()
    created = _json(cli("users", "create", name, "--email", "ada@example.com", "--name", "  Ada Lovelace ",
                        "--password-stdin", "--json", input="a long password\n"))
    assert (created["email"], created["email_verified"], created["name"]) == ("ada@example.com", False, "Ada Lovelace")
    assert created["updated_at"] == created["created_at"]
    listed = {u["username"]: u for u in _json(cli("users", "list", "--json"))}
    assert listed[name]["email"] == "ada@example.com"
    plain = cli("users", "list").stdout
    assert "email_verified" in plain and "Ada Lovelace" in plain


def test_update_changes_only_what_is_given_and_a_new_email_is_unverified(cli) -> None:
    name = _name()
    cli("users", "create", name, "--email", "old@example.com", "--password-stdin", input="a long password\n")
    verified = _json(cli("users", "update", name, "--email-verified", "--json"))
    assert verified["email_verified"] is True and verified["updated_at"] > verified["created_at"]

    renamed = _json(cli("users", "update", name, "--name", "Grace", "--json"))
    assert (renamed["email"], renamed["email_verified"], renamed["name"]) == ("old@example.com", True, "Grace")

    moved = _json(cli("users", "update", name, "--email", "new@example.com", "--json"))
    assert (moved["email"], moved["email_verified"], moved["name"]) == ("new@example.com", False, "Grace")
    moved_verified = _json(cli("users", "update", name, "--email", "third@example.com", "--email-verified", "--json"))
    assert moved_verified["email_verified"] is True

    same = _json(cli("users", "update", name, "--email", "third@example.com", "--json"))
    assert same["email_verified"] is True and same["updated_at"] == moved_verified["updated_at"]

    cleared = _json(cli("users", "update", name, "--email", "", "--name", "", "--json"))
    assert (cleared["email"], cleared["email_verified"], cleared["name"]) == (None, False, None)


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "two@@example.com", "sp ace@example.com", "a@example..com",
                                   "x" * 65 + "@example.com", "tab\t@example.com", "@example.com"])
def test_email_shapes_are_checked(cli, email: str) -> None:
    name = _name()
    refused = cli("users", "create", name, "--email", email, "--password-stdin", input="a long password\n", ok=False)
    assert "--email" in refused.stderr and "email address" in refused.stderr
    assert name not in cli("users", "list").stdout
    cli("users", "create", name, "--password-stdin", input="a long password\n")
    assert "--email" in cli("users", "update", name, "--email", email, ok=False).stderr


def test_only_an_address_can_be_verified(cli) -> None:
    name = _name()
    cli("users", "create", name, "--password-stdin", input="a long password\n")
    refused = cli("users", "update", name, "--email-verified", ok=False)
    assert "--email-verified" in refused.stderr
    assert "\n" not in cli("users", "update", name, "--name", "bad\nname", ok=False).stderr.strip()


def test_unknown_user_is_named(cli) -> None:
    assert "no user named 'nobody-here'" in cli("users", "update", "nobody-here", "--name", "X", ok=False).stderr


def test_clients_register_and_replace_post_logout_redirect_uris(cli) -> None:
    created = _json(cli("clients", "create", "--name", "rp", "--grant-type", "authorization_code",
                        "--redirect-uri", "https://app.example/cb", "--post-logout-redirect-uri",
                        "https://app.example/bye", "--post-logout-redirect-uri", "http://127.0.0.1:8080/bye", "--json"))
    assert created["post_logout_redirect_uris"] == ["https://app.example/bye", "http://127.0.0.1:8080/bye"]
    client_id = created["client_id"]
    replaced = _json(cli("clients", "update", client_id, "--post-logout-redirect-uri", "https://app.example/out",
                         "--json"))
    assert replaced["post_logout_redirect_uris"] == ["https://app.example/out"]
    untouched = _json(cli("clients", "update", client_id, "--introspect-any", "--json"))
    assert untouched["post_logout_redirect_uris"] == ["https://app.example/out"]
    cleared = _json(cli("clients", "update", client_id, "--no-post-logout-redirect-uris", "--json"))
    assert cleared["post_logout_redirect_uris"] == []


@pytest.mark.parametrize("uri", ["http://app.example/bye", "https://app.example/bye#x", "/relative", "https:///bye"])
def test_bad_post_logout_redirect_uris_are_refused_naming_the_flag(cli, uri: str) -> None:
    refused = cli("clients", "create", "--name", "rp", "--grant-type", "authorization_code",
                  "--redirect-uri", "https://app.example/cb", "--post-logout-redirect-uri", uri, ok=False)
    assert "post-logout redirect URI" in refused.stderr and "--post-logout-redirect-uri" in refused.stderr
    created = _json(cli("clients", "create", "--name", "rp", "--json"))
    update = cli("clients", "update", created["client_id"], "--post-logout-redirect-uri", uri, "--introspect-any",
                 ok=False)
    assert "--post-logout-redirect-uri" in update.stderr
    assert _json(cli("clients", "show", created["client_id"], "--json"))["introspect_any"] is False  # nothing written
