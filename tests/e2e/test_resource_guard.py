"""resource_guard end to end: the real authserver issues tokens over loopback, and the example
reports API — under gunicorn, configured like a user would — accepts and refuses them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import ROOT, LiveServer, stop_process
from tests.databases import free_port

pytestmark = pytest.mark.e2e
AUDIENCE = "https://reports.example"


@pytest.fixture(scope="module")
def api(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example API under gunicorn, with its own introspection client."""
    rs = json.loads(live_server.cli("clients", "create", "--name", "reports-api", "--resource-server", AUDIENCE,
                                    "--json").stdout)
    port = free_port()
    env = {**live_server.env, "ISSUER": live_server.url, "AUDIENCE": AUDIENCE, "RS_CLIENT_ID": rs["client_id"],
           "RS_CLIENT_SECRET": rs["client_secret"], "KID_REFETCH_INTERVAL": "0", "INTROSPECTION_CACHE_TTL": "1",
           "REDIS_URL": "redis://127.0.0.1:6379/0"}
    log = (tmp_path_factory.mktemp("api") / "api.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--pythonpath", "examples", "protected_api:create_app()",
         "-b", f"127.0.0.1:{port}", "-w", "2", "--no-control-socket"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # poll readiness: a worker answers once it has imported the app
            try:
                requests.get(url + "/whoami", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None and time.monotonic() < deadline, "the example API did not start"
                time.sleep(0.05)
        yield url
    finally:
        stop_process(proc)


def _token(server: LiveServer, client, **form: str) -> str:
    resp = requests.post(server.url + "/oauth/token", data={"grant_type": "client_credentials", **form},
                         auth=client.basic, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def _challenge(resp: requests.Response) -> str:
    return resp.headers.get("WWW-Authenticate", "")


def test_jwt_with_the_scope_is_accepted_and_the_method_decides_the_scope(live_server, api, make_client) -> None:
    client = make_client(scope="reports:read", audiences=[AUDIENCE])
    value = _token(live_server, client)
    ok = requests.get(api + "/reports", headers=_bearer(value), timeout=5)
    assert ok.status_code == 200 and ok.json()["caller"] == client.client_id
    assert requests.get(api + "/whoami", headers=_bearer(value), timeout=5).json()["backend"] == "bearer_jwt"
    denied = requests.post(api + "/reports", headers=_bearer(value), timeout=5)
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in _challenge(denied) and 'scope="reports:write"' in _challenge(denied)


def test_no_credentials_get_the_first_backends_challenge(api) -> None:
    resp = requests.get(api + "/reports", timeout=5)
    assert resp.status_code == 401
    assert _challenge(resp).startswith("Bearer") and "error=" not in _challenge(resp)
    assert requests.get(api + "/whoami", timeout=5).json() == {"anonymous": True}


def test_token_in_the_query_string_is_refused(live_server, api, make_client) -> None:
    value = _token(live_server, make_client(scope="reports:read", audiences=[AUDIENCE]))
    resp = requests.get(api + "/reports", params={"access_token": value}, timeout=5)
    assert resp.status_code == 400 and 'error="invalid_request"' in _challenge(resp)


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_a_token_for_another_audience_is_refused(live_server, api, make_client, token_format: str) -> None:
    """JWTs and introspected opaque tokens alike: the API's audience is required."""
    for audiences in (["https://other.example"], []):
        client = make_client(scope="reports:read", audiences=audiences, token_format=token_format)
        resp = requests.get(api + "/reports", headers=_bearer(_token(live_server, client)), timeout=5)
        assert resp.status_code == 401 and 'error="invalid_token"' in _challenge(resp), audiences


def forged_tokens(live_server, make_client, audience: str) -> dict[str, str]:
    """The RFC 8725 attack set every adapter's example must refuse with 401 ``invalid_token``:
    forged, ``alg: none``, algorithm confusion, expired, tampered, and tokens for another API."""
    real = _token(live_server, make_client(scope="reports:read", audiences=[audience]))
    claims = pyjwt.decode(real, options={"verify_signature": False})
    header = pyjwt.get_unverified_header(real)
    jwks = requests.get(live_server.url + "/oauth/jwks", timeout=5).json()
    public_jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    hdr = {"kid": header["kid"], "typ": "at+jwt"}
    head, _, signature = real.split(".")
    scoped_up = pyjwt.utils.base64url_encode(json.dumps({**claims, "scope": "reports:write"}).encode()).decode()
    other = ["https://other.example"]
    return {
        "other key, same kid": pyjwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers=hdr),
        # PyJWT's signature asks for a key, but "none" takes None: the attack needs exactly that
        "alg none": pyjwt.encode(claims, None, "none", headers=hdr),  # type: ignore[arg-type]
        "HS256 with the public key": pyjwt.encode(claims, json.dumps(public_jwk).encode() * 2, "HS256", headers=hdr),
        "RS256 under an EC kid": pyjwt.encode(claims, rsa.generate_private_key(65537, 2048), "RS256", headers=hdr),
        "expired, re-signed": pyjwt.encode({**claims, "exp": int(time.time()) - 3600},
                                           ec.generate_private_key(ec.SECP256R1()), "ES256", headers=hdr),
        "tampered scope": f"{head}.{scoped_up}.{signature}",
        "wrong audience": _token(live_server, make_client(scope="reports:read", audiences=other)),
        "opaque, wrong audience": _token(live_server, make_client(scope="reports:read", token_format="opaque",
                                                                  audiences=other)),
    }


def test_forged_and_confused_tokens_are_refused(live_server, api, make_client) -> None:
    for name, forged in forged_tokens(live_server, make_client, AUDIENCE).items():
        resp = requests.get(api + "/reports", headers=_bearer(forged), timeout=5)
        assert resp.status_code == 401, name
        assert 'error="invalid_token"' in _challenge(resp), name


def test_rotated_key_is_picked_up(live_server, api, make_client) -> None:
    client = make_client(scope="reports:read", audiences=[AUDIENCE])
    assert requests.get(api + "/reports", headers=_bearer(_token(live_server, client)), timeout=5).status_code == 200
    new_kid = json.loads(live_server.cli("keys", "rotate", "--json").stdout)[0]["kid"]  # access tokens' key
    deadline = time.monotonic() + 15
    while pyjwt.get_unverified_header(value := _token(live_server, client))["kid"] != new_kid:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert requests.get(api + "/reports", headers=_bearer(value), timeout=5).status_code == 200


def test_opaque_tokens_go_through_introspection_and_revocation_is_seen(live_server, api, make_client) -> None:
    assert_revocation_is_seen(live_server, api, make_client, AUDIENCE)


def assert_revocation_is_seen(live_server, api, make_client, audience: str) -> None:
    """An opaque token is accepted through introspection, then refused soon after revocation."""
    client = make_client(scope="reports:read", audiences=[audience], token_format="opaque")
    value = _token(live_server, client)
    ok = requests.get(api + "/whoami", headers=_bearer(value), timeout=5)
    assert ok.status_code == 200 and ok.json()["backend"] == "introspection"
    requests.post(live_server.url + "/oauth/revoke", data={"token": value}, auth=client.basic, timeout=5)
    # the API caches positive answers for at most INTROSPECTION_CACHE_TTL (1 s) here
    deadline = time.monotonic() + 10
    while (resp := requests.get(api + "/reports", headers=_bearer(value), timeout=5)).status_code == 200:
        assert time.monotonic() < deadline, "a revoked token stayed accepted past the cache bound"
        time.sleep(0.2)
    assert resp.status_code == 401 and 'error="invalid_token"' in _challenge(resp)


def test_legacy_api_tokens_with_policy_expiry_and_revocation(live_server, api) -> None:
    assert live_server.cli("users", "create", "erin-rg", "--password-stdin", input="erin's password\n").returncode == 0
    policy = json.dumps({"resources": {"*": {"allow": ["GET"], "block": ["*"]}, "reports": {"2": {"block": ["GET"]}}}})
    made = live_server.cli("api-tokens", "create", "erin-rg", "--policy", policy, "--json")
    token = json.loads(made.stdout)
    auth = {"Authorization": f"token {token['token']}"}
    assert requests.get(api + "/reports/1", headers=auth, timeout=5).status_code == 200
    assert requests.post(api + "/reports", headers=auth, timeout=5).status_code == 403
    assert requests.get(api + "/reports/2", headers=auth, timeout=5).status_code == 403
    drf_style = requests.get(api + "/reports/1", headers={"Authorization": f"Token {token['token']}"}, timeout=5)
    assert drf_style.status_code == 200
    typo = token["token"][:-1] + ("a" if token["token"][-1] != "a" else "b")
    assert requests.get(api + "/reports", headers={"Authorization": f"token {typo}"}, timeout=5).status_code == 401
    live_server.cli("api-tokens", "revoke", str(token["id"]), "--reason", "leaked in a paste")
    revoked = requests.get(api + "/reports/1", headers=auth, timeout=5)
    assert revoked.status_code == 401 and "became invalid" in revoked.json()["error_description"]
    assert "leaked in a paste" in revoked.json()["error_description"]


def test_basic_users_and_the_failed_login_limit(live_server, api) -> None:
    user = "frank-" + uuid.uuid4().hex[:8]
    assert live_server.cli("users", "create", user, "--password-stdin", input="frank's password\n").returncode == 0
    ok = requests.get(api + "/whoami", auth=(user, "frank's password"), timeout=5)
    assert ok.status_code == 200 and ok.json()["scopes"] is None and ok.json()["backend"] == "basic"
    # 5 failures per minute per user and address, counted in the Redis both workers share
    statuses = [requests.get(api + "/reports", auth=(user, "guess"), timeout=5).status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    limited = requests.get(api + "/reports", auth=(user, "frank's password"), timeout=5)
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
