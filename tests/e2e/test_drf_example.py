"""The DRF example (examples/drf_project) end to end: the real authserver issues tokens over
loopback, and the example — under gunicorn, configured from its environment as a user would —
accepts and refuses them with the same 401/403 contract as the Flask adapter."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, LiveServer, stop_process
from tests.databases import free_port
from tests.e2e.test_resource_guard import _bearer, _challenge, _token, assert_revocation_is_seen, forged_tokens

pytestmark = pytest.mark.e2e
AUDIENCE = "https://drf-reports.example"
PROXY = "127.0.0.2"  # Linux routes all of 127/8 to loopback: a second source address for the proxy
METADATA = 'resource_metadata="https://drf-reports.example/.well-known/oauth-protected-resource"'


@pytest.fixture(scope="module")
def drf_api(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The example under gunicorn, with its own introspection client; yields its URL and log."""
    rs = json.loads(live_server.cli("clients", "create", "--name", "drf-reports", "--resource-server", AUDIENCE,
                                    "--json").stdout)
    port = free_port()
    env = {**live_server.env, "ISSUER": live_server.url, "AUDIENCE": AUDIENCE, "RS_CLIENT_ID": rs["client_id"],
           "RS_CLIENT_SECRET": rs["client_secret"], "KID_REFETCH_INTERVAL": "0", "INTROSPECTION_CACHE_TTL": "1",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "TRUSTED_PROXIES": PROXY}
    log_path = tmp_path_factory.mktemp("drf") / "drf.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", "examples/drf_project", "reports_site.wsgi",
         "-b", f"127.0.0.1:{port}", "-w", "2", "--no-control-socket"],
        env=env, cwd=ROOT, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # poll readiness: a worker answers once it has loaded Django and the guard
            try:
                requests.get(url + "/whoami", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
        yield url, log_path
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def api(drf_api: tuple[str, Path]) -> str:
    return drf_api[0]


def test_scopes_decide_and_a_403_names_the_scope_and_the_metadata(live_server, api, make_client) -> None:
    client = make_client(scope="reports:read items:read", audiences=[AUDIENCE])
    value = _token(live_server, client)
    ok = requests.get(api + "/reports", headers=_bearer(value), timeout=5)
    assert ok.status_code == 200 and ok.json()["caller"] == client.client_id
    assert requests.get(api + "/items", headers=_bearer(value), timeout=5).status_code == 200
    denied = requests.post(api + "/items", headers=_bearer(value), timeout=5)
    assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in _challenge(denied) and 'scope="items:write"' in _challenge(denied)
    assert METADATA in _challenge(denied)


def test_anonymous_gets_the_first_challenge_with_scope_and_can_discover_the_server(live_server, api) -> None:
    resp = requests.get(api + "/reports", timeout=5)
    assert resp.status_code == 401
    assert _challenge(resp) == f'Bearer realm="api", scope="reports:read", {METADATA}'
    document = requests.get(api + "/.well-known/oauth-protected-resource", timeout=5)
    assert document.status_code == 200 and document.headers["Content-Type"] == "application/json"
    assert document.json()["resource"] == AUDIENCE
    assert document.json()["authorization_servers"] == [live_server.url]
    assert "items:write" in document.json()["scopes_supported"]
    assert requests.get(api + "/whoami", timeout=5).json() == {"anonymous": True}


def test_forged_expired_and_misdirected_tokens_are_refused(live_server, api, make_client) -> None:
    attacks = forged_tokens(live_server, make_client, AUDIENCE)
    for name, forged in attacks.items():
        resp = requests.get(api + "/reports", headers=_bearer(forged), timeout=5)
        assert resp.status_code == 401, name
        assert 'error="invalid_token"' in _challenge(resp) and METADATA in _challenge(resp), name


def test_malformed_headers_and_query_tokens_are_400(api) -> None:
    for header in ("Bearer", "Bearer two parts", "Basic !!!notbase64", "token"):
        resp = requests.get(api + "/reports", headers={"Authorization": header}, timeout=5)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request", header
    resp = requests.get(api + "/reports", params={"access_token": "x"}, timeout=5)
    assert resp.status_code == 400 and 'error="invalid_request"' in _challenge(resp)


def test_revoked_opaque_token_is_refused_after_the_cache_bound(live_server, api, make_client) -> None:
    assert_revocation_is_seen(live_server, api, make_client, AUDIENCE)


def test_api_token_policy_and_basic_users(live_server, api) -> None:
    user = "gina-" + uuid.uuid4().hex[:8]
    assert live_server.cli("users", "create", user, "--password-stdin", input="gina's password\n").returncode == 0
    policy = json.dumps({"resources": {"*": {"allow": ["GET"], "block": ["*"]}, "items": {"2": {"block": ["GET"]}}}})
    token = json.loads(live_server.cli("api-tokens", "create", user, "--policy", policy, "--json").stdout)["token"]
    auth = {"Authorization": f"token {token}"}
    assert requests.get(api + "/items/1", headers=auth, timeout=5).status_code == 200
    assert requests.get(api + "/items/2", headers=auth, timeout=5).status_code == 403
    assert requests.delete(api + "/items/1", headers=auth, timeout=5).status_code == 403
    ok = requests.get(api + "/whoami", auth=(user, "gina's password"), timeout=5)
    assert ok.status_code == 200 and ok.json()["backend"] == "basic" and ok.json()["scopes"] is None
    wrong = requests.get(api + "/reports", auth=(user, "guess"), timeout=5)
    assert wrong.status_code == 401 and _challenge(wrong).startswith("Basic")


def _get_from(source: str, url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_remote_user_is_believed_only_from_the_trusted_proxy(api) -> None:
    spoofed = {"Remote-User": "admin", "X-Forwarded-For": PROXY, "X-Real-IP": PROXY}
    status, body = _get_from("127.0.0.1", api, "/reports", spoofed)
    assert status == 401 and body["error"] == "authentication_required"
    status, body = _get_from(PROXY, api, "/whoami", {"Remote-User": "admin"})
    assert status == 200 and body["backend"] == "remote_user" and body["subject"] == "admin"


def test_garbage_never_gets_a_5xx(drf_api: tuple[str, Path]) -> None:
    api, log_path = drf_api
    garbage = ["Bearer " + "A" * 4000, "Bearer a.b.c", "Bearer e30.e30.", "Basic " + "=" * 10, "Basic Og==",
               "Digest username=x", "token asapi_", "Bearer \u00e9\u00e9", "BEARER x.y.z", ", , ,"]
    for header in garbage:
        resp = requests.get(api + "/items/1", headers={"Authorization": header.encode("latin-1")}, timeout=5)
        assert resp.status_code < 500, (header, resp.status_code)
    for path in ("/items/999999999999999999999", "/items/-1", "/.well-known/oauth-protected-resource/x"):
        assert requests.get(api + path, timeout=5).status_code < 500, path
    assert "Traceback" not in log_path.read_text(errors="replace")
