"""Read the database after real use — clients, client-credentials and authorization-code
tokens, refresh rotation, users, API tokens — and find none of the secrets it handed out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import MetaData, select

from authserver.extensions import db

from .authorize_flow import approve, pkce_pair, query_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _database_text(app: Flask) -> str:
    """Every value of every row of every table, as text."""
    meta = MetaData()
    with app.app_context():
        meta.reflect(bind=db.engine)
        with db.engine.connect() as conn:
            rows = [list(row) for table in meta.sorted_tables for row in conn.execute(select(table))]
    return json.dumps(rows, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))


def test_no_secret_is_stored_in_clear(live_server, migrated_app: Flask, database_url: str) -> None:
    secrets: list[str] = []
    created = []
    for fmt in ("jwt", "opaque"):
        result = live_server.cli(
            "clients", "create", "--name", f"at-rest-{fmt}", "--token-format", fmt, "--scope", "a", "--json"
        )
        assert result.returncode == 0, result.stderr
        created.append(json.loads(result.stdout))
    for client in created:
        secrets.append(client["client_secret"])
        resp = requests.post(live_server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client["client_id"], client["client_secret"]), timeout=5)
        secrets.append(resp.json()["access_token"])
    dora = live_server.cli("users", "create", "dora-at-rest", "--password-stdin", input="dora's long password\n")
    assert dora.returncode == 0, dora.stderr
    secrets.append("dora's long password")
    api = live_server.cli("api-tokens", "create", "dora-at-rest", "--json")
    assert api.returncode == 0, api.stderr
    secrets.append(json.loads(api.stdout)["token"])

    # a person's authorization: the code, a refresh token and its rotated successor
    user = "erin-at-rest"
    assert live_server.cli("users", "create", user, "--password-stdin", input="erin's long password\n").returncode == 0
    secrets.append("erin's long password")
    redirect_uri = "https://app.example/cb"
    made = live_server.cli("clients", "create", "--name", "web app", "--grant-type", "authorization_code",
                           "--grant-type", "refresh_token", "--scope", "a", "--redirect-uri", redirect_uri, "--json")
    web = json.loads(made.stdout)
    secrets.append(web["client_secret"])
    verifier, challenge = pkce_pair()
    back = approve(f"{live_server.url}/oauth/authorize?response_type=code&client_id={web['client_id']}"
                   f"&redirect_uri={redirect_uri}&scope=a&state=s&code_challenge={challenge}&code_challenge_method=S256",
                   user, "erin's long password")
    code = query_of(back)["code"]
    web_auth = (web["client_id"], web["client_secret"])
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    issued = requests.post(live_server.url + "/oauth/token", auth=web_auth, timeout=5, data=grant).json()
    renewal = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    rotated = requests.post(live_server.url + "/oauth/token", auth=web_auth, timeout=5, data=renewal).json()
    secrets += [code, issued["refresh_token"], issued["access_token"]]
    secrets += [rotated["refresh_token"], rotated["access_token"]]

    text = _database_text(migrated_app)
    assert created[0]["client_id"] in text  # the dump is real: identifiers are there
    for secret in secrets:
        assert secret not in text
        # nor any long piece of it (a truncated copy would still leak entropy)
        assert secret[5:25] not in text
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        files = [Path(path), Path(path + "-wal")]
        raw = b"".join(file.read_bytes() for file in files if file.exists())
        for secret in secrets:
            assert secret.encode() not in raw
