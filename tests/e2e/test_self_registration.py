"""Self-registration against the real server (gunicorn, two workers), driven the way an
independent client would: plain ``requests`` for RFC 7591, the returned credentials for a
token, a private_key_jwt assertion made with PyJWT, and the ``authserver`` command line for
initial access tokens. Concurrent registrations never exceed an initial token's uses."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from ..conftest import LiveServer, start_server, stop_server
from ..databases import free_port
from .test_no_secrets_at_rest import _database_text

pytestmark = pytest.mark.e2e

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def server(server_settings: dict[str, Any], migrated_app: Flask,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}",
                "dynamic_registration": "initial-token", "registration_rate_limit": 100,
                "registration_grant_types": "authorization_code refresh_token client_credentials"}
    live = start_server(settings, tmp_path_factory.mktemp("registration") / "server.log")
    yield live
    stop_server(live)


def cli_json(server: LiveServer, *args: str) -> Any:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_independent_client_registers_and_gets_tokens(server: LiveServer) -> None:
    issued = cli_json(server, "registration-tokens", "create", "--max-uses", "2", "--note", "e2e")
    assert issued["token"].startswith("asiat_") and issued["uses"] == 0
    metadata = requests.get(server.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    auth = {"Authorization": f"Bearer {issued['token']}"}

    # A client with a secret.
    answer = requests.post(metadata["registration_endpoint"], headers=auth, timeout=10,
                           json={"client_name": "report job", "grant_types": ["client_credentials"]})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    got = requests.post(metadata["token_endpoint"], data={"grant_type": "client_credentials"},
                        auth=(job["client_id"], job["client_secret"]), timeout=10)
    assert got.status_code == 200 and got.json()["token_type"] == "Bearer"

    # A client with a key: private_key_jwt, with an assertion PyJWT signs.
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**pyjwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "one"}
    answer = requests.post(metadata["registration_endpoint"], headers=auth, timeout=10, json={
        "client_name": "keyed job", "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}})
    assert answer.status_code == 201, answer.text
    keyed = answer.json()
    assert "client_secret" not in keyed
    now = int(time.time())
    assertion = pyjwt.encode({"iss": keyed["client_id"], "sub": keyed["client_id"], "aud": metadata["issuer"],
                              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
                             key, algorithm="ES256", headers={"kid": "one"})
    got = requests.post(metadata["token_endpoint"], timeout=10, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
    assert got.status_code == 200, got.text

    # The token is spent; the command line shows who registered themselves.
    spent = requests.post(metadata["registration_endpoint"], headers=auth, timeout=10, json={"client_name": "third"})
    assert spent.status_code == 401
    listed = {c["client_id"]: c for c in cli_json(server, "clients", "list")}
    assert listed[job["client_id"]]["registered_by"] == "self"
    assert listed[keyed["client_id"]]["token_endpoint_auth_method"] == "private_key_jwt"
    uses = {t["id"]: t["uses"] for t in cli_json(server, "registration-tokens", "list")}
    assert uses[issued["id"]] == 2


def test_concurrent_registrations_never_exceed_max_uses(server: LiveServer) -> None:
    issued = cli_json(server, "registration-tokens", "create", "--max-uses", "3")
    racers = 8
    barrier = threading.Barrier(racers)

    def register(index: int) -> int:
        with requests.Session() as http:
            barrier.wait(timeout=30)
            return http.post(server.url + "/oauth/register", timeout=30,
                             headers={"Authorization": f"Bearer {issued['token']}"},
                             json={"client_name": f"racer {index}", "redirect_uris": ["http://127.0.0.1/cb"],
                                   "token_endpoint_auth_method": "none"}).status_code

    with ThreadPoolExecutor(racers) as pool:
        statuses = sorted(pool.map(register, range(racers)))
    assert statuses == [201] * 3 + [401] * 5
    uses = {t["id"]: t["uses"] for t in cli_json(server, "registration-tokens", "list")}
    assert uses[issued["id"]] == 3


def test_a_revoked_initial_token_registers_nothing(server: LiveServer) -> None:
    issued = cli_json(server, "registration-tokens", "create", "--expires-in", "3600")
    revoked = cli_json(server, "registration-tokens", "revoke", str(issued["id"]))
    assert revoked["revoked_at"] is not None and "token" not in revoked
    answer = requests.post(server.url + "/oauth/register", headers={"Authorization": f"Bearer {issued['token']}"},
                           json={"client_name": "late"}, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"


def test_registration_secrets_are_not_stored_in_clear(server: LiveServer, migrated_app: Flask) -> None:
    issued = cli_json(server, "registration-tokens", "create", "--max-uses", "1")
    answer = requests.post(server.url + "/oauth/register", headers={"Authorization": f"Bearer {issued['token']}"},
                           json={"client_name": "at rest", "grant_types": ["client_credentials"]}, timeout=10)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    read = requests.get(body["registration_client_uri"], timeout=10,
                        headers={"Authorization": f"Bearer {body['registration_access_token']}"}).json()
    secrets = [issued["token"], body["client_secret"], body["registration_access_token"],
               read["registration_access_token"]]
    text = _database_text(migrated_app)
    assert body["client_id"] in text  # the dump is real
    for secret in secrets:
        assert secret not in text and secret[6:26] not in text
