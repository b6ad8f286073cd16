"""The scope catalogue: metadata publishes only chosen scopes; consent shows descriptions."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask

from .authorize_helpers import REDIRECT, authorize_url, pkce_pair, sign_in


@pytest.fixture
def cli(migrated_app: Flask):
    runner = migrated_app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}:read"


def _metadata_scopes(app: Flask) -> list[str]:
    return app.test_client().get("/.well-known/oauth-authorization-server").get_json()["scopes_supported"]


def test_metadata_does_not_reveal_what_clients_may_do(app: Flask, make_client, cli) -> None:
    secret_scope, published = _name("payroll"), _name("reports")
    make_client(scope=f"{secret_scope} {published}")
    assert secret_scope not in _metadata_scopes(app) and published not in _metadata_scopes(app)
    assert cli("scopes", "create", published, "--description", "Read reports", "--public").exit_code == 0
    assert cli("scopes", "create", secret_scope, "--description", "Read payroll").exit_code == 0
    listed = _metadata_scopes(app)
    assert published in listed and secret_scope not in listed
    assert cli("scopes", "update", published, "--no-public").exit_code == 0
    assert published not in _metadata_scopes(app)
    assert cli("scopes", "update", secret_scope, "--public").exit_code == 0
    assert secret_scope in _metadata_scopes(app)
    assert cli("scopes", "delete", secret_scope).exit_code == 0
    assert secret_scope not in _metadata_scopes(app)


def test_the_commands_print_records_and_refuse_bad_input(cli) -> None:
    name = _name("files")
    created = json.loads(cli("scopes", "create", name, "--description", "See your files", "--json").stdout)
    assert created["name"] == name and created["description"] == "See your files" and created["public"] is False
    listed = json.loads(cli("scopes", "list", "--json").stdout)
    assert {"name": name, "description": "See your files", "public": False}.items() <= \
        next(s for s in listed if s["name"] == name).items()
    updated = json.loads(cli("scopes", "update", name, "--description", "See and list your files", "--json").stdout)
    assert updated["description"] == "See and list your files" and updated["public"] is False
    assert json.loads(cli("scopes", "show", name, "--json").stdout)["description"] == "See and list your files"

    again = cli("scopes", "create", name)
    assert again.exit_code == 1 and "already in the catalogue" in again.stderr
    for bad in ("two words", 'quote"', "back\\slash", "", "é", "x" * 201):
        refused = cli("scopes", "create", bad)
        assert refused.exit_code == 1 and "RFC 6749 §3.3" in refused.stderr, bad
    for missing in (("show", "nope:x"), ("update", "nope:x", "--public"), ("delete", "nope:x")):
        result = cli("scopes", *missing)
        assert result.exit_code == 1 and "no scope named 'nope:x'" in result.stderr
    assert cli("scopes", "delete", name, "--json").exit_code == 0
    assert name not in cli("scopes", "list").stdout


def test_consent_shows_descriptions_and_bare_names_otherwise(app: Flask, make_client, make_user, cli) -> None:
    described, bare = _name("invoices"), "legacy-" + uuid.uuid4().hex[:6]
    assert cli("scopes", "create", described, "--description", "See the invoices you sent").exit_code == 0
    client = make_client(name="Books", scope=f"{described} {bare}", grant_types=["authorization_code"],
                         redirect_uris=[REDIRECT], public=True)
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    page = http.get(authorize_url(client.client_id, challenge=pkce_pair()[1], scope=f"{described} {bare}"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "See the invoices you sent" in html and f"Use “{bare}”" in html
    assert "View your invoices" not in html  # the description replaces the generated words
