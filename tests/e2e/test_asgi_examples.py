"""The FastAPI and Starlette examples end to end: the real authserver issues tokens over
loopback, and each example — under uvicorn with two workers, configured from its environment as
a user would — accepts and refuses them with the Flask adapter's 401/403 contract."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, LiveServer, stop_process
from tests.databases import free_port
from tests.e2e.test_resource_guard import _bearer, _challenge, _token, assert_revocation_is_seen, forged_tokens

pytestmark = pytest.mark.e2e
AUDIENCE = "https://asgi-reports.example/api"  # a path: the metadata is also served path-suffixed
METADATA = 'resource_metadata="https://asgi-reports.example/.well-known/oauth-protected-resource/api"'


@dataclass
class Example:
    name: str
    url: str
    log_path: Path


@pytest.fixture(scope="module", params=["fastapi_app", "starlette_app"])
def example(request: pytest.FixtureRequest, live_server: LiveServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """One example under uvicorn (two worker processes), with its own introspection client."""
    name: str = request.param
    rs = json.loads(live_server.cli("clients", "create", "--name", name, "--resource-server", AUDIENCE,
                                    "--json").stdout)
    port = free_port()
    env = {**live_server.env, "ISSUER": live_server.url, "AUDIENCE": AUDIENCE, "RS_CLIENT_ID": rs["client_id"],
           "RS_CLIENT_SECRET": rs["client_secret"], "KID_REFETCH_INTERVAL": "0", "INTROSPECTION_CACHE_TTL": "1",
           "REDIS_URL": "redis://127.0.0.1:6379/0"}
    log_path = tmp_path_factory.mktemp(name) / "uvicorn.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", "examples", "--factory", f"{name}:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env, cwd=ROOT, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # poll readiness: a worker answers once it has built the app
            try:
                requests.get(url + "/whoami", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
        yield Example(name, url, log_path)
    finally:
        stop_process(proc)


@pytest.fixture
def api(example: Example) -> str:
    return example.url


def test_scopes_decide_and_a_403_names_the_scope_and_the_metadata(live_server, api, make_client) -> None:
    client = make_client(scope="reports:read items:read", audiences=[AUDIENCE])
    value = _token(live_server, client)
    ok = requests.get(api + "/reports", headers=_bearer(value), timeout=5)
    assert ok.status_code == 200 and ok.json()["caller"] == client.client_id
    assert requests.get(api + "/items", headers=_bearer(value), timeout=5).status_code == 200
    assert requests.get(api + "/whoami", headers=_bearer(value), timeout=5).json()["backend"] == "bearer_jwt"
    for method, path, needed in (("POST", "/reports", "reports:write"), ("DELETE", "/items/1", "items:destroy")):
        denied = requests.request(method, api + path, headers=_bearer(value), timeout=5)
        assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope", path
        assert 'error="insufficient_scope"' in _challenge(denied) and f'scope="{needed}"' in _challenge(denied)
        assert METADATA in _challenge(denied)


def test_anonymous_gets_the_challenge_with_scope_and_can_discover_the_server(live_server, api) -> None:
    resp = requests.get(api + "/reports", timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "authentication_required"
    assert _challenge(resp) == f'Bearer realm="api", scope="reports:read", {METADATA}'
    for path in ("/.well-known/oauth-protected-resource/api", "/.well-known/oauth-protected-resource"):
        document = requests.get(api + path, timeout=5)
        assert document.status_code == 200 and document.headers["Content-Type"] == "application/json", path
        assert document.json()["resource"] == AUDIENCE
        assert document.json()["authorization_servers"] == [live_server.url]
        assert "items:destroy" in document.json()["scopes_supported"]
    assert requests.get(api + "/whoami", timeout=5).json() == {"anonymous": True}


def test_forged_confused_expired_and_misdirected_tokens_are_refused(live_server, api, make_client) -> None:
    attacks = forged_tokens(live_server, make_client, AUDIENCE)
    for name, forged in attacks.items():
        for path in ("/reports", "/whoami"):  # an optional endpoint still refuses bad credentials
            resp = requests.get(api + path, headers=_bearer(forged), timeout=5)
            assert resp.status_code == 401 and resp.json()["error"] == "invalid_token", (name, path)
            assert 'error="invalid_token"' in _challenge(resp) and METADATA in _challenge(resp), name


def test_malformed_headers_and_query_tokens_are_400(api) -> None:
    for header in ("Bearer", "Bearer two parts", "Basic !!!notbase64", "token"):
        resp = requests.get(api + "/reports", headers={"Authorization": header}, timeout=5)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request", header
    resp = requests.get(api + "/reports", params={"access_token": "x"}, timeout=5)
    assert resp.status_code == 400 and 'error="invalid_request"' in _challenge(resp)


def test_revoked_opaque_token_is_refused_after_the_cache_bound(live_server, api, make_client) -> None:
    assert_revocation_is_seen(live_server, api, make_client, AUDIENCE)


def test_api_token_policy_and_basic_users_with_the_failed_login_limit(live_server, api) -> None:
    user = "hana-" + uuid.uuid4().hex[:8]
    assert live_server.cli("users", "create", user, "--password-stdin", input="hana's password\n").returncode == 0
    policy = json.dumps({"resources": {"*": {"allow": ["GET"], "block": ["*"]}, "items": {"2": {"block": ["GET"]}},
                                       "reports": {"2": {"block": ["GET"]}}}})
    token = json.loads(live_server.cli("api-tokens", "create", user, "--policy", policy, "--json").stdout)
    auth = {"Authorization": f"token {token['token']}"}
    assert requests.get(api + "/items/1", headers=auth, timeout=5).status_code == 200
    assert requests.get(api + "/reports/1", headers=auth, timeout=5).status_code == 200
    for method, path in (("GET", "/items/2"), ("GET", "/reports/2"), ("DELETE", "/items/1"), ("POST", "/reports")):
        assert requests.request(method, api + path, headers=auth, timeout=5).status_code == 403, (method, path)
    live_server.cli("api-tokens", "revoke", str(token["id"]), "--reason", "leaked in a paste")
    revoked = requests.get(api + "/items/1", headers=auth, timeout=5)
    assert revoked.status_code == 401 and "leaked in a paste" in revoked.json()["error_description"]
    ok = requests.get(api + "/whoami", auth=(user, "hana's password"), timeout=5)
    assert ok.status_code == 200 and ok.json()["backend"] == "basic" and ok.json()["scopes"] is None
    # 5 failures per minute per user and address, counted in the Redis both workers share
    statuses = [requests.get(api + "/reports", auth=(user, "guess"), timeout=5).status_code for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    wrong = requests.get(api + "/reports", auth=(user + "x", "guess"), timeout=5)
    assert wrong.status_code == 401 and _challenge(wrong).startswith("Basic")


def test_garbage_never_gets_a_5xx(example: Example) -> None:
    api = example.url
    garbage = ["Bearer " + "A" * 4000, "Bearer a.b.c", "Bearer e30.e30.", "Basic " + "=" * 10, "Basic Og==",
               "Digest username=x", "token asapi_", "Bearer \u00e9\u00e9", "BEARER x.y.z", ", , ,"]
    for header in garbage:
        for path in ("/items/1", "/whoami", "/.well-known/oauth-protected-resource"):
            resp = requests.get(api + path, headers={"Authorization": header.encode("latin-1")}, timeout=5)
            assert resp.status_code < 500, (header, path, resp.status_code)
    for path in ("/items/999999999999999999999", "/items/-1", "/reports/x", "/.well-known/oauth-protected-resource/x"):
        assert requests.get(api + path, timeout=5).status_code < 500, path
    assert requests.post(api + "/.well-known/oauth-protected-resource", timeout=5).status_code == 405
    assert "Traceback" not in example.log_path.read_text(errors="replace")


@pytest.mark.parametrize("example", ["fastapi_app"], indirect=True)
def test_fastapi_openapi_describes_the_issuers_oauth_flows(live_server, example: Example) -> None:
    """Swagger UI's Authorize button works from this document: the authorization-code and
    client-credentials flows point at the authserver, with the API's scopes, PKCE on."""
    document = requests.get(example.url + "/openapi.json", timeout=5).json()
    scheme = document["components"]["securitySchemes"]["OAuth2"]
    assert scheme["type"] == "oauth2"
    code, machine = scheme["flows"]["authorizationCode"], scheme["flows"]["clientCredentials"]
    assert code["authorizationUrl"] == live_server.url + "/oauth/authorize"
    assert code["tokenUrl"] == machine["tokenUrl"] == live_server.url + "/oauth/token"
    assert "items:write" in code["scopes"] and "reports:read" in machine["scopes"]
    assert document["paths"]["/items"]["post"]["security"] == [{"OAuth2": ["items:write"]}]
    assert "/.well-known/oauth-protected-resource" not in document["paths"]
    docs = requests.get(example.url + "/docs", timeout=5)
    assert docs.status_code == 200 and '"usePkceWithAuthorizationCodeGrant": true' in docs.text
