"""End to end over loopback: the real server under gunicorn, independent HTTP clients,
and JWTs verified with PyJWT's own JWKS client (not our code)."""

from __future__ import annotations

from typing import Any

import jwt as pyjwt
import pytest
import requests

pytestmark = pytest.mark.e2e


def _metadata(url: str) -> dict[str, Any]:
    resp = requests.get(url + "/.well-known/oauth-authorization-server", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    return resp.json()


def test_issue_verify_introspect_revoke(live_server, make_client) -> None:
    meta = _metadata(live_server.url)
    client = make_client(scope="reports:read reports:write", audiences=["https://api.example"])
    rs = make_client(scope="", resource_servers=["https://api.example"])  # the API the token is for
    resp = requests.post(meta["token_endpoint"], data={"grant_type": "client_credentials", "scope": "reports:read"},
                         auth=client.basic, timeout=5)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    access = resp.json()["access_token"]

    signing_key = pyjwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(access)
    claims = pyjwt.decode(access, signing_key.key, algorithms=["ES256"], audience="https://api.example",
                          issuer=meta["issuer"], options={"require": ["exp", "iat", "jti", "sub"]})
    assert pyjwt.get_unverified_header(access)["typ"] == "at+jwt"
    assert claims["client_id"] == client.client_id == claims["sub"] and claims["scope"] == "reports:read"

    active = requests.post(meta["introspection_endpoint"], data={"token": access}, auth=rs.basic, timeout=5).json()
    assert active["active"] is True and active["jti"] == claims["jti"]

    revoked = requests.post(meta["revocation_endpoint"], data={"token": access}, auth=client.basic, timeout=5)
    assert revoked.status_code == 200
    after = requests.post(meta["introspection_endpoint"], data={"token": access}, auth=rs.basic, timeout=5)
    assert after.json() == {"active": False}


def test_opaque_tokens_over_http(live_server, make_client) -> None:
    client = make_client(token_format="opaque")
    access = requests.post(live_server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                           auth=client.basic, timeout=5).json()["access_token"]
    assert access.startswith("asat_")
    body = requests.post(
        live_server.url + "/oauth/introspect", data={"token": access}, auth=client.basic, timeout=5
    ).json()
    assert body["active"] is True and body["client_id"] == client.client_id


def test_key_rotation_is_picked_up_by_running_workers(live_server, make_client) -> None:
    client = make_client()
    before = requests.post(
        live_server.url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=client.basic, timeout=5
    ).json()["access_token"]
    rotated = live_server.cli("keys", "rotate", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = __import__("json").loads(rotated.stdout)[0]["kid"]  # the access-token algorithm's
    jwks = requests.get(live_server.url + "/oauth/jwks", timeout=5).json()
    assert {pyjwt.get_unverified_header(before)["kid"], new_kid} <= {k["kid"] for k in jwks["keys"]}
    # every worker moves to the new key within its re-check interval; poll with a deadline
    import time
    deadline = time.monotonic() + 15
    while True:
        value = requests.post(
            live_server.url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=client.basic, timeout=5
        ).json()["access_token"]
        if pyjwt.get_unverified_header(value)["kid"] == new_kid:
            break
        assert time.monotonic() < deadline, "workers kept signing with the retired key"
        time.sleep(0.2)
    pyjwt.PyJWKClient(live_server.url + "/oauth/jwks").get_signing_key_from_jwt(before)


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"data": b"\xff\xfe\xfd", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400),
        ({"json": {"grant_type": "client_credentials"}}, 400),
        ({"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic %%%"}}, 401),
        (
            {
                "data": "grant_type=client_credentials&grant_type=password",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            400,
        ),
        ({"data": {"grant_type": "client_credentials", "scope": "x" * 200_000}}, 413),
    ],
)
def test_malformed_requests_get_rfc_errors_not_5xx(live_server, kwargs: dict[str, Any], status: int) -> None:
    resp = requests.post(live_server.url + "/oauth/token", timeout=5, **kwargs)
    assert resp.status_code == status
    assert resp.json()["error"] in ("invalid_request", "invalid_client")
