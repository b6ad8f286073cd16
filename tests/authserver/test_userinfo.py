"""UserInfo (OpenID Connect Core §5.3): claims by scope for the person a token acts for, GET
and POST, and RFC 6750 challenges for every token that may not be used there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select, update

from authserver.extensions import db
from authserver.models import Token, User
from authserver.models.types import utcnow
from authserver.oidc.profile import ProfileChange, apply_profile

from .authorize_helpers import REDIRECT, signed_in_flow
from .helpers import revoke, token
from .id_tokens import stranger_key

USERINFO = "/oauth/userinfo"
SCOPES = "openid profile email reports:read"


@pytest.fixture(params=["jwt", "opaque"])
def web_client(request: pytest.FixtureRequest, make_client):
    return make_client(name="Acme Reports", scope=SCOPES, grant_types=["authorization_code", "refresh_token"],
                       redirect_uris=[REDIRECT], token_format=request.param)


def _profile(app: Flask, username: str, **change: Any) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    apply_profile(user, ProfileChange(**change))
    db.session.commit()
    return user


def _tokens(app: Flask, make_user, client, scope: str, **profile: Any) -> tuple[dict[str, Any], User]:
    """Sign a new person in, give them ``profile``, and get tokens for ``scope`` by the code flow."""
    username, password = make_user()
    flow = signed_in_flow(app, lambda: (username, password), client.client_id)
    user = _profile(app, username, **profile)
    resp = flow.redeem(flow.code(scope=scope), auth=client.basic)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json(), user


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_claims_follow_the_scope(app: Flask, make_user, web_client) -> None:
    tokens, user = _tokens(app, make_user, web_client, SCOPES, email="ada@example.com", email_verified=True,
                           name="Ada Lovelace")
    resp = app.test_client().get(USERINFO, headers=_bearer(tokens["access_token"]))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.get_json() == {
        "sub": f"user:{user.id}", "name": "Ada Lovelace", "preferred_username": user.username,
        "updated_at": int(user.updated_at.timestamp()), "email": "ada@example.com", "email_verified": True,
    }

    only_openid, _ = _tokens(app, make_user, web_client, "openid", email="x@example.com", name="X")
    assert set(app.test_client().get(USERINFO, headers=_bearer(only_openid["access_token"])).get_json()) == {"sub"}

    email_only, _ = _tokens(app, make_user, web_client, "openid email", email="grace@example.com")
    assert app.test_client().get(USERINFO, headers=_bearer(email_only["access_token"])).get_json()["email_verified"] \
        is False


def test_claims_without_values_are_left_out(app: Flask, make_user, web_client) -> None:
    tokens, user = _tokens(app, make_user, web_client, SCOPES)
    claims = app.test_client().get(USERINFO, headers=_bearer(tokens["access_token"])).get_json()
    assert claims == {"sub": user.subject, "preferred_username": user.username,
                      "updated_at": int(user.updated_at.timestamp())}


def test_post_with_the_header_or_the_form_body(app: Flask, make_user, web_client) -> None:
    tokens, _user = _tokens(app, make_user, web_client, "openid profile", name="Ada")
    http = app.test_client()
    by_header = http.post(USERINFO, headers=_bearer(tokens["access_token"]))
    by_body = http.post(USERINFO, data={"access_token": tokens["access_token"]})
    assert by_header.status_code == by_body.status_code == 200
    assert by_header.get_json() == by_body.get_json() and by_body.get_json()["name"] == "Ada"

    both = http.post(USERINFO, data={"access_token": tokens["access_token"]}, headers=_bearer(tokens["access_token"]))
    assert both.status_code == 400 and 'error="invalid_request"' in both.headers["WWW-Authenticate"]
    in_url = http.get(USERINFO + "?access_token=" + tokens["access_token"])
    assert in_url.status_code == 400 and in_url.get_json()["error"] == "invalid_request"


def _refused(app: Flask, value: str | None) -> tuple[int, str, dict[str, Any]]:
    resp = app.test_client().get(USERINFO, headers=_bearer(value) if value is not None else {})
    assert resp.headers["Cache-Control"] == "no-store"
    return resp.status_code, resp.headers["WWW-Authenticate"], resp.get_json()


def test_no_token_is_asked_for_one_without_an_error_code(app: Flask) -> None:
    status, challenge, _ = _refused(app, None)
    assert status == 401 and challenge == 'Bearer realm="authserver", scope="openid"'
    status, challenge, _ = _refused(app, "")  # "Bearer" and nothing after it: malformed
    assert status == 400 and 'error="invalid_request"' in challenge


def test_revoked_and_expired_tokens_are_invalid(app: Flask, make_user, web_client) -> None:
    tokens, _ = _tokens(app, make_user, web_client, SCOPES)
    assert revoke(app, web_client.basic, tokens["access_token"]).status_code == 200
    status, challenge, body = _refused(app, tokens["access_token"])
    assert status == 401 and 'error="invalid_token"' in challenge and body["error"] == "invalid_token"

    tokens, user = _tokens(app, make_user, web_client, SCOPES)
    db.session.execute(update(Token).where(Token.user_id == user.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    status, challenge, _ = _refused(app, tokens["access_token"])
    assert status == 401 and 'error="invalid_token"' in challenge


def test_a_refresh_token_is_not_an_access_token(app: Flask, make_user, web_client) -> None:
    tokens, _ = _tokens(app, make_user, web_client, SCOPES)
    status, challenge, _ = _refused(app, tokens["refresh_token"])
    assert status == 401 and 'error="invalid_token"' in challenge


def test_a_client_acting_for_itself_has_nobody_to_describe(app: Flask, make_client) -> None:
    machine = make_client(scope="openid profile")
    value = token(app, machine.basic, scope="openid profile").get_json()["access_token"]
    status, challenge, body = _refused(app, value)
    assert status == 401 and 'error="invalid_token"' in challenge and "people" in body["error_description"]


def test_a_token_without_openid_gets_insufficient_scope(app: Flask, make_user, web_client) -> None:
    tokens, _ = _tokens(app, make_user, web_client, "profile email reports:read")
    status, challenge, body = _refused(app, tokens["access_token"])
    assert status == 403 and 'error="insufficient_scope"' in challenge and 'scope="openid"' in challenge
    assert body["error"] == "insufficient_scope"


def test_a_disabled_users_token_is_invalid(app: Flask, make_user, web_client) -> None:
    tokens, user = _tokens(app, make_user, web_client, SCOPES)
    user.is_active = False  # as `users disable` does before it revokes: the check does not rely on the revocation
    db.session.commit()
    status, challenge, _ = _refused(app, tokens["access_token"])
    assert status == 401 and 'error="invalid_token"' in challenge


def test_forged_and_foreign_tokens_are_invalid(app: Flask, make_user, web_client) -> None:
    from joserfc import jwt

    from authserver.appstate import state

    tokens, _user = _tokens(app, make_user, web_client, SCOPES)
    value = tokens["access_token"]
    if value.count(".") == 2:  # a JWT re-signed by a stranger, under our kid
        header = jwt.decode(value, state(app).keys.active().key).header
        claims = jwt.decode(value, state(app).keys.active().key).claims
        forged = jwt.encode(header, claims, stranger_key(app), algorithms=[header["alg"]])
        assert _refused(app, forged)[0] == 401
    for junk in (value[:-4] + "AAAA", "asat_" + "A" * 40, "a.b.c", "\x00"):
        assert _refused(app, junk)[0] in (400, 401)


def test_cors_lets_a_listed_origin_call_userinfo(
    migrated_app: Flask, server_settings: dict[str, Any], make_user, make_client
) -> None:
    from authserver import create_app

    spa = "http://127.0.0.1:8002"
    cors_app = create_app({**server_settings, "cors_allowed_origins": spa})
    with cors_app.app_context():
        for method in ("GET", "POST"):
            asking = {"Origin": spa, "Access-Control-Request-Method": method,
                      "Access-Control-Request-Headers": "authorization"}
            pre = cors_app.test_client().options(USERINFO, headers=asking)
            assert pre.status_code == 204 and method in pre.headers["Access-Control-Allow-Methods"]
        refused = cors_app.test_client().get(USERINFO, headers={"Origin": spa})
        assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == spa
        assert "WWW-Authenticate" in refused.headers["Access-Control-Expose-Headers"]
        other = cors_app.test_client().get(USERINFO, headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers


def test_userinfo_over_real_http(live_server, app: Flask, make_user, web_client) -> None:
    tokens, user = _tokens(app, make_user, web_client, SCOPES, email="lin@example.com", name="Lin")
    for method in ("GET", "POST"):
        resp = requests.request(method, live_server.url + USERINFO, headers=_bearer(tokens["access_token"]), timeout=10)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
        assert resp.json()["sub"] == user.subject and resp.json()["email"] == "lin@example.com"
    no_token = requests.get(live_server.url + USERINFO, timeout=10)
    assert no_token.status_code == 401 and no_token.headers["WWW-Authenticate"].startswith("Bearer ")
