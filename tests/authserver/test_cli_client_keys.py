"""``authserver clients create/update`` with keys (private_key_jwt), and
``authserver registration-tokens``."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from authserver.appstate import state
from authserver.oauth.names import CLIENT_ASSERTION_TYPE

from .helpers import token

KEY = ec.generate_private_key(ec.SECP256R1())
JWKS = {"keys": [{**pyjwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "cli"}]}


@pytest.fixture
def cli(migrated_app: Flask):
    runner = migrated_app.test_cli_runner()

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(args=list(args))
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
            return json.loads(result.stdout) if "--json" in args else result.stdout
        assert result.exit_code != 0
        return result.stderr

    return run


def signed_token_request(app: Flask, client_id: str) -> int:
    now = int(time.time())
    assertion = pyjwt.encode({"iss": client_id, "sub": client_id, "aud": state(app).settings.issuer, "iat": now,
                              "exp": now + 60, "jti": uuid.uuid4().hex}, KEY, algorithm="ES256",
                             headers={"kid": "cli"})
    return app.test_client().post("/oauth/token", data={
        "grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion}).status_code


def test_a_client_registered_with_a_jwks_file_authenticates_with_its_key(cli, app: Flask, tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(JWKS))
    created = cli("clients", "create", "--name", "keyed", "--jwks-file", str(keys), "--json")
    assert created["token_endpoint_auth_method"] == "private_key_jwt" and "client_secret" not in created
    assert created["jwks"] == JWKS and created["registered_by"] == "admin"
    assert signed_token_request(app, created["client_id"]) == 200
    assert "has no secret" in cli("clients", "rotate-secret", created["client_id"], ok=False)


def test_update_moves_between_a_secret_and_a_key(cli, app: Flask, tmp_path: Path) -> None:
    created = cli("clients", "create", "--name", "moving", "--json")
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(JWKS))
    keyed = cli("clients", "update", created["client_id"], "--jwks-file", str(keys), "--json")
    assert keyed["token_endpoint_auth_method"] == "private_key_jwt" and "client_secret" not in keyed
    assert token(app, (created["client_id"], created["client_secret"])).status_code == 401  # the secret is gone
    assert signed_token_request(app, created["client_id"]) == 200
    back = cli("clients", "update", created["client_id"], "--auth-method", "client_secret_post", "--json")
    assert back["client_secret"].startswith("ascs_") and back["jwks"] is None
    assert signed_token_request(app, created["client_id"]) == 401


@pytest.mark.parametrize(("args", "message"), [
    (["--jwks-uri", "http://keys.example/jwks.json"], "must be an https URL without a fragment (--jwks-uri)"),
    (["--auth-method", "private_key_jwt"], "gives either jwks or jwks_uri (one of them) (--jwks-file)"),
    (["--public", "--jwks-uri", "https://keys.example/jwks.json"], "--public client has no secret and no keys"),
    (["--auth-method", "client_secret_basic", "--jwks-uri", "https://k.example/j"], "private_key_jwt (--jwks-uri)"),
])
def test_bad_key_options_are_refused_with_the_flag(cli, args: list[str], message: str) -> None:
    assert message in cli("clients", "create", "--name", "x", *args, ok=False)


def test_a_private_key_in_the_jwks_file_is_refused(cli, tmp_path: Path) -> None:
    private = {"keys": [{**pyjwt.algorithms.ECAlgorithm.to_jwk(KEY, as_dict=True)}]}
    keys = tmp_path / "private.json"
    keys.write_text(json.dumps(private))
    assert "public keys only" in cli("clients", "create", "--name", "x", "--jwks-file", str(keys), ok=False)


def test_registration_tokens_create_list_revoke(cli) -> None:
    created = cli("registration-tokens", "create", "--expires-in", "600", "--max-uses", "2", "--note", "ci",
                  "--json")
    assert created["token"].startswith("asiat_") and created["max_uses"] == 2 and created["uses"] == 0
    listed = cli("registration-tokens", "list", "--json")
    mine = next(t for t in listed if t["id"] == created["id"])
    assert "token" not in mine and mine["note"] == "ci" and mine["expires_at"] is not None
    assert created["token"] not in cli("registration-tokens", "list")
    revoked = cli("registration-tokens", "revoke", str(created["id"]), "--json")
    assert revoked["revoked_at"] is not None
    assert "positive" in cli("registration-tokens", "create", "--max-uses", "0", ok=False)
