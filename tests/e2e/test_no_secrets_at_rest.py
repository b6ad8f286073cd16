"""Read the database after real use and find none of the secrets it handed out."""

from __future__ import annotations

import json

import pytest
import requests
from flask import Flask
from sqlalchemy import MetaData, select

from authserver.extensions import db

pytestmark = pytest.mark.e2e


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
        result = live_server.cli("clients", "create", "--name", f"at-rest-{fmt}", "--token-format", fmt, "--scope", "a", "--json")
        assert result.returncode == 0, result.stderr
        created.append(json.loads(result.stdout))
    for client in created:
        secrets.append(client["client_secret"])
        resp = requests.post(live_server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client["client_id"], client["client_secret"]), timeout=5)
        secrets.append(resp.json()["access_token"])
    assert live_server.cli("users", "create", "dora-at-rest", "--password-stdin", input="dora's long password\n").returncode == 0
    secrets.append("dora's long password")
    api = live_server.cli("api-tokens", "create", "dora-at-rest", "--json")
    assert api.returncode == 0, api.stderr
    secrets.append(json.loads(api.stdout)["token"])

    text = _database_text(migrated_app)
    assert created[0]["client_id"] in text  # the dump is real: identifiers are there
    for secret in secrets:
        assert secret not in text
        # nor any long piece of it (a truncated copy would still leak entropy)
        assert secret[5:25] not in text
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        raw = b"".join(open(p, "rb").read() for p in (path, path + "-wal") if __import__("os").path.exists(p))
        for secret in secrets:
            assert secret.encode() not in raw
