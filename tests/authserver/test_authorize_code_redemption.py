"""Redeeming authorization codes (RFC 6749 §4.1.3, RFC 7636 §4.5) and the attacks on it:
redirect URI games, replay, another client's code, PKCE wrong/missing/downgraded, expiry."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import AuthorizationCode
from authserver.models.types import utcnow

from .authorize_helpers import NATIVE_REDIRECT, REDIRECT, authorize_url, pkce_pair, signed_in_flow
from .helpers import introspect

CODE_GRANTS = ["authorization_code", "refresh_token"]


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def public(make_client):
    return make_client(name="Native app", scope="reports:read reports:write", grant_types=CODE_GRANTS,
                       redirect_uris=[NATIVE_REDIRECT, REDIRECT], public=True)


@pytest.fixture
def confidential(make_client):
    return make_client(name="Web app", scope="reports:read reports:write", grant_types=CODE_GRANTS,
                       redirect_uris=[REDIRECT, "http://127.0.0.1:8765/callback"])


@pytest.fixture
def resource_server(make_client):
    return make_client(name="Reports API", scope="", introspect_any=True)


def test_public_client_redeems_with_the_verifier(app: Flask, make_user, public, resource_server) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    resp = flow.redeem(flow.code(scope="reports:read"))
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and body["scope"] == "reports:read"
    assert body["refresh_token"].startswith("asrt_")
    claims = _claims(body["access_token"])
    info = introspect(app, resource_server.basic, body["access_token"]).get_json()
    assert claims["sub"].startswith("user:") and claims["sub"] != public.client_id
    assert info["active"] is True and info["sub"] == claims["sub"] and info["username"] == claims["username"]
    assert info["client_id"] == public.client_id


def test_confidential_client_redeems_with_secret_and_verifier(app: Flask, make_user, confidential) -> None:
    flow = signed_in_flow(app, make_user, confidential.client_id)
    code = flow.code()
    assert flow.redeem(code, auth=confidential.basic).status_code == 200


def test_confidential_client_must_authenticate(app: Flask, make_user, confidential) -> None:
    flow = signed_in_flow(app, make_user, confidential.client_id)
    code = flow.code()
    assert flow.redeem(code).get_json()["error"] == "invalid_client"
    assert flow.redeem(code, auth=(confidential.client_id, "ascs_wrong")).get_json()["error"] == "invalid_client"
    assert flow.redeem(code, auth=confidential.basic).status_code == 200  # the failed tries did not burn it


def test_confidential_client_without_pkce_when_registered_so(app: Flask, make_user, make_client) -> None:
    c = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT], require_pkce=False)
    flow = signed_in_flow(app, make_user, c.client_id, pkce=False)
    assert flow.redeem(flow.code(), auth=c.basic).status_code == 200


def test_pkce_is_required_by_default_even_for_confidential_clients(app: Flask, make_user, confidential) -> None:
    flow = signed_in_flow(app, make_user, confidential.client_id, pkce=False)
    resp = flow.http.get(authorize_url(confidential.client_id))
    assert resp.status_code == 302 and "error=invalid_request" in resp.headers["Location"]


def test_code_replay_fails_and_revokes_what_the_first_redemption_issued(
    app: Flask, make_user, public, resource_server
) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    first = flow.redeem(code).get_json()
    replay = flow.redeem(code)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    for value in (first["access_token"], first["refresh_token"]):
        assert introspect(app, resource_server.basic, value).get_json() == {"active": False}
    refreshed = app.test_client().post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": public.client_id})
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_client_it_was_issued_to(app: Flask, make_user, public, make_client) -> None:
    other = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT], public=True)
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    stolen = flow.redeem(code, client_id=other.client_id)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    assert flow.redeem(code).status_code == 200


def test_code_is_bound_to_its_redirect_uri(app: Flask, make_user, public) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    for uri in (NATIVE_REDIRECT, REDIRECT + "/", None):
        assert flow.redeem(code, redirect_uri=uri).get_json()["error"] == "invalid_grant"
    assert flow.redeem(code).status_code == 200


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (None, "invalid_request"),
        ("", "invalid_request"),
        ("x" * 43, "invalid_grant"),
        ("too-short", "invalid_request"),
    ],
)
def test_wrong_or_missing_verifier_is_refused(app: Flask, make_user, public, verifier, error: str) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    resp = flow.redeem(code, code_verifier=verifier)
    assert resp.status_code == 400 and resp.get_json()["error"] == error
    assert flow.redeem(code).status_code == 200


def test_verifier_of_another_authorization_is_refused(app: Flask, make_user, public) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    assert flow.redeem(code, code_verifier=pkce_pair()[0]).get_json()["error"] == "invalid_grant"


def test_pkce_downgrade_is_refused(app: Flask, make_user, make_client) -> None:
    """A code issued without a challenge cannot be redeemed with a verifier (RFC 9700 §4.8.2)."""
    c = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT], require_pkce=False)
    flow = signed_in_flow(app, make_user, c.client_id, pkce=False)
    code = flow.code()
    resp = flow.redeem(code, auth=c.basic, code_verifier=pkce_pair()[0])
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_plain_pkce_is_refused_even_with_a_valid_looking_challenge(app: Flask, make_user, public) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    verifier = pkce_pair()[0]
    resp = flow.http.get(authorize_url(public.client_id, code_challenge=verifier, code_challenge_method="plain"))
    assert resp.status_code == 302 and "error=invalid_request" in resp.headers["Location"]


def test_expired_code_is_invalid_grant(app: Flask, make_user, public) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    hasher = state(app).hasher
    db.session.execute(
        update(AuthorizationCode).where(AuthorizationCode.code_hash == hasher.hash(code))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert flow.redeem(code).get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("code", ["", "asac_notarealcode", "asat_" + "A" * 40, "x" * 5000, "asac_\u00e9\u00e9"])
def test_malformed_codes_are_invalid_grant_not_500(app: Flask, public, code: str) -> None:
    resp = app.test_client().post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": public.client_id, "code_verifier": pkce_pair()[0]})
    assert resp.status_code == 400 and resp.get_json()["error"] in ("invalid_grant", "invalid_request")


def test_code_redemption_marks_the_code_used(app: Flask, make_user, public) -> None:
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()
    assert flow.redeem(code).status_code == 200
    hasher = state(app).hasher
    db.session.expire_all()
    row = db.session.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == hasher.hash(code)))
    assert row is not None and row.used_at is not None


REGISTERED = "https://app.example/callback"


@pytest.mark.parametrize(
    "variant",
    [
        "https://app.example/callbackx",           # registered URI as a prefix
        "https://app.example/callback/extra",      # extra path
        "https://app.example/callback?next=/x",    # query added
        "https://app.example/callback#frag",       # fragment
        "http://app.example/callback",             # https downgraded
        "https://app.example/callback/",           # trailing slash
        "https://app.example:443/callback",        # explicit default port
        "https://APP.example/callback",            # case games
        "https://app.example.evil.example/callback",
        "https://app.example@evil.example/callback",
        "https://evil.example/callback",
        "https://app.example/%63allback",          # percent-encoding games
        "http://127.0.0.1:9999/callback",          # another loopback port, confidential client
        "http://localhost:8765/callback",          # another loopback host name
        "http://127.0.0.1:8765/callback/",
    ],
)
def test_redirect_uri_variants_get_an_error_page(app: Flask, make_user, confidential, variant: str) -> None:
    flow = signed_in_flow(app, make_user, confidential.client_id)
    resp = flow.http.get(authorize_url(confidential.client_id, redirect_uri=variant, challenge=flow.challenge))
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_native_clients_may_vary_only_the_loopback_port(app: Flask, make_user, public) -> None:
    flow = signed_in_flow(app, make_user, public.client_id, redirect_uri="http://127.0.0.1:49152/callback")
    code = flow.code()
    assert flow.redeem(code).status_code == 200
    for variant in ("http://127.0.0.1:49152/other", "http://127.0.0.2:8765/callback", "http://localhost:8765/callback"):
        resp = flow.http.get(authorize_url(public.client_id, redirect_uri=variant, challenge=flow.challenge))
        assert resp.status_code == 400 and "Location" not in resp.headers


def test_implicit_and_password_grants_are_off(app: Flask, make_user, confidential) -> None:
    username, password = make_user()
    resp = app.test_client().post("/oauth/token", data={
        "grant_type": "password", "username": username, "password": password}, headers={})
    assert resp.status_code == 400 and resp.get_json()["error"] == "unsupported_grant_type"
    flow = signed_in_flow(app, make_user, confidential.client_id)
    resp = flow.http.get(authorize_url(confidential.client_id, challenge=flow.challenge, response_type="token"))
    location = resp.headers["Location"]
    assert "error=unsupported_response_type" in location and "access_token" not in location
