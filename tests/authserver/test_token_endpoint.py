"""The token endpoint with client_credentials (RFC 6749 §4.4, RFC 9068, RFC 8707)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from flask import Flask

from authserver.appstate import state

from .helpers import basic, token


def _claims(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = jwt.split(".")
    def pad(s: str) -> str:
        return s + "=" * (-len(s) % 4)

    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload)))


def test_issues_an_rfc9068_jwt_with_the_client_as_subject(app: Flask, make_client) -> None:
    c = make_client(scope="reports:read reports:write", audiences=["https://api.example"])
    resp = token(app, c.basic, scope="reports:read")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and body["scope"] == "reports:read" and body["expires_in"] == 3600
    assert "refresh_token" not in body
    header, claims = _claims(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    assert claims["iss"] == state(app).settings.issuer
    assert claims["sub"] == c.client_id == claims["client_id"]
    assert claims["aud"] == "https://api.example"
    assert claims["scope"] == "reports:read"
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"]


def test_jti_is_a_uuid7_that_follows_issue_time(app: Flask, make_client) -> None:
    c = make_client()
    jtis = [_claims(token(app, c.basic).get_json()["access_token"])[1]["jti"] for _ in range(3)]
    assert len(set(jtis)) == 3
    for jti in jtis:
        parsed = uuid.UUID(hex=jti)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert abs(int(jti[:12], 16) / 1000 - time.time()) < 60  # the millisecond clock leads
    assert [j[:12] for j in jtis] == sorted(j[:12] for j in jtis)


def test_no_scope_requested_means_every_allowed_scope(app: Flask, make_client) -> None:
    c = make_client(scope="a b c")
    assert token(app, c.basic).get_json()["scope"] == "a b c"


@pytest.mark.parametrize("scope", ["d", "a d", "", "   "])
def test_scope_beyond_the_client_allowance_is_invalid_scope(app: Flask, make_client, scope: str) -> None:
    c = make_client(scope="a b c")
    resp = token(app, c.basic, scope=scope)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_scope"


def test_client_secret_post_works_too(app: Flask, make_client) -> None:
    c = make_client()
    resp = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret},
    )
    assert resp.status_code == 200


def test_opaque_per_client_is_prefixed_and_not_a_jwt(app: Flask, make_client) -> None:
    c = make_client(token_format="opaque")
    value = token(app, c.basic).get_json()["access_token"]
    assert value.startswith("asat_") and value.count(".") == 0


def test_resource_narrows_the_audience(app: Flask, make_client) -> None:
    c = make_client(audiences=["https://a.example", "https://b.example"])
    _, both = _claims(token(app, c.basic).get_json()["access_token"])
    assert both["aud"] == ["https://a.example", "https://b.example"]
    _, one = _claims(token(app, c.basic, resource="https://b.example").get_json()["access_token"])
    assert one["aud"] == "https://b.example"


def test_unregistered_resource_is_invalid_target(app: Flask, make_client) -> None:
    c = make_client(audiences=["https://a.example"])
    resp = token(app, c.basic, resource="https://evil.example")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_target"


def test_wrong_secret_is_401_with_a_basic_challenge(app: Flask, make_client) -> None:
    c = make_client()
    resp = token(app, (c.client_id, "ascs_wrong"))
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_a_grant_the_client_is_not_registered_for_is_unauthorized_client(app: Flask, make_client) -> None:
    c = make_client(grant_types=["authorization_code"], redirect_uris=["https://app.example/cb"], scope="a")
    resp = token(app, c.basic)
    assert resp.status_code == 400 and resp.get_json()["error"] == "unauthorized_client"


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:x", ""])
def test_unsupported_grants_are_refused(app: Flask, make_client, grant_type: str) -> None:
    resp = token(app, make_client().basic, grant_type=grant_type)
    assert resp.status_code == 400 and resp.get_json()["error"] == "unsupported_grant_type"


class TestMalformedRequests:
    """Bad input gets a 4xx with an RFC 6749 §5.2 body naming the problem, never a 5xx."""

    def test_json_body(self, app: Flask, make_client) -> None:
        c = make_client()
        resp = app.test_client().post(
            "/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(*c.basic)
        )
        assert resp.status_code == 400
        assert "x-www-form-urlencoded" in resp.get_json()["error_description"]

    def test_repeated_parameter(self, app: Flask, make_client) -> None:
        c = make_client()
        resp = app.test_client().post(
            "/oauth/token", data="grant_type=client_credentials&scope=a&scope=b",
            content_type="application/x-www-form-urlencoded", headers=basic(*c.basic),
        )
        assert resp.status_code == 400 and "repeated" in resp.get_json()["error_description"]

    def test_parameters_in_the_query_string(self, app: Flask, make_client) -> None:
        c = make_client()
        resp = app.test_client().post(
            f"/oauth/token?client_secret={c.client_secret}",
            data={"grant_type": "client_credentials"},
            headers=basic(*c.basic),
        )
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"

    def test_binary_body(self, app: Flask, make_client) -> None:
        resp = app.test_client().post(
            "/oauth/token", data=b"grant_type=\xff\xfe\x00", content_type="application/x-www-form-urlencoded",
            headers=basic(*make_client().basic),
        )
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"

    def test_nul_byte(self, app: Flask, make_client) -> None:
        resp = token(app, make_client().basic, scope="a\x00b")
        assert resp.status_code == 400 and "NUL" in resp.get_json()["error_description"]

    def test_huge_body(self, app: Flask, make_client) -> None:
        resp = token(app, make_client().basic, scope="a" * 100_000)
        assert resp.status_code == 413 and resp.get_json()["error"] == "invalid_request"

    def test_huge_client_id(self, app: Flask) -> None:
        resp = token(app, ("x" * 5000, "y"))
        assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"

    @pytest.mark.parametrize(
        "header",
        [
            "Basic",
            "Basic !!!",
            "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
            "Basic " + base64.b64encode(b"nocolon").decode(),
            "Bearer abc",
            "Digest x=y",
        ],
    )
    def test_broken_authorization_header(self, app: Flask, header: str) -> None:
        resp = app.test_client().post(
            "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header}
        )
        assert resp.status_code == 401
        assert resp.get_json()["error"] == "invalid_client"
        assert resp.headers["WWW-Authenticate"].startswith("Basic")

    def test_two_authentication_methods_at_once(self, app: Flask, make_client) -> None:
        c = make_client()
        resp = token(app, c.basic, client_secret=c.client_secret)
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"

    def test_get_is_not_allowed(self, app: Flask) -> None:
        resp = app.test_client().get("/oauth/token")
        assert resp.status_code == 405 and resp.get_json()["error"] == "invalid_request"

    def test_unknown_path_is_json(self, app: Flask) -> None:
        resp = app.test_client().get("/oauth/nope")
        assert resp.status_code == 404 and resp.is_json


def test_unknown_client_and_wrong_secret_answer_alike(app: Flask, make_client) -> None:
    """Failures must not reveal which client ids exist."""
    c = make_client()
    unknown = token(app, ("no-such-client", c.client_secret))
    wrong = token(app, (c.client_id, "ascs_wrong"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()


@pytest.mark.parametrize("host", ["evil.example", "10.0.0.5:8080", "auth.example"])
def test_the_host_header_does_not_decide_transport_security(app: Flask, make_client, host: str) -> None:
    """Authlib refuses plain http by the request's URL; the server judges it at its issuer, so
    a Host header (or a TLS proxy in front) neither breaks a request into a 500 nor changes
    its answer."""
    client = make_client()
    http = app.test_client()
    issued = http.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={**basic(*client.basic),
                                                                                         "Host": host})
    assert issued.status_code == 200, issued.get_json()
    looked_up = http.post("/oauth/introspect", data={"token": issued.get_json()["access_token"]},
                          headers={**basic(*client.basic), "Host": host})
    assert looked_up.status_code == 200 and looked_up.get_json()["active"] is True
