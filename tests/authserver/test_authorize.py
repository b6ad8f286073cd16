"""The authorization endpoint and its pages: login, consent, prompt, CSRF, headers, errors."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import AuthorizationCode, Session, User

from .authorize_helpers import (
    REDIRECT,
    authorize_url,
    consent,
    csrf_of,
    pkce_pair,
    query_of,
    sign_in,
    signed_in_flow,
)


@pytest.fixture
def web_client(make_client):
    return make_client(
        name="Acme Reports", scope="reports:read reports:write", grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT],
    )


def test_signed_out_visitor_is_sent_to_login_and_back(app: Flask, make_user, web_client) -> None:
    http = app.test_client()
    url = authorize_url(web_client.client_id, challenge=pkce_pair()[1])
    resp = http.get(url)
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login?next=")
    page = http.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page and "Acme Reports" in page
    username, password = make_user()
    back = sign_in(http, username, password, next_url=query_of(resp.headers["Location"])["next"])
    assert back.status_code == 303 and back.headers["Location"] == url


def test_consent_page_names_the_client_and_scopes_in_words(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    page = flow.http.get(
        authorize_url(web_client.client_id, challenge=flow.challenge, scope="reports:read reports:write")
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Allow <span class=\"client-name\">Acme Reports</span>" in html
    assert "View your reports" in html and "Create and change your reports" in html
    assert 'name="decision" value="allow"' in html and 'name="decision" value="deny"' in html
    assert "app.example" in html  # where the user will be sent


def test_allow_redirects_with_code_state_and_iss(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    url = authorize_url(web_client.client_id, challenge=flow.challenge, state="xyz 123")
    resp = consent(flow.http, url)
    assert resp.status_code == 303
    params = query_of(resp.headers["Location"])
    assert resp.headers["Location"].startswith(REDIRECT + "?")
    assert params["state"] == "xyz 123"
    assert params["iss"] == state(app).settings.issuer
    assert params["code"].startswith("asac_")


def test_codes_are_stored_only_as_hashes(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    code = flow.code()
    hasher = state(app).hasher
    row = db.session.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == hasher.hash(code)))
    assert row is not None and code not in (row.code_hash, row.family_id)
    assert (row.expires_at - row.created_at).total_seconds() == 60


def test_deny_redirects_access_denied_with_state_and_iss(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    resp = consent(flow.http, authorize_url(web_client.client_id, challenge=flow.challenge, state="s1"), "deny")
    params = query_of(resp.headers["Location"])
    assert resp.status_code == 303 and "code" not in params
    assert params["error"] == "access_denied" and params["state"] == "s1"
    assert params["iss"] == state(app).settings.issuer


def test_consent_is_remembered_for_the_same_scope_set_only(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    flow.code(scope="reports:read reports:write")
    again = flow.http.get(
        authorize_url(web_client.client_id, challenge=flow.challenge, scope="reports:write reports:read")
    )
    assert again.status_code == 302 and "code" in query_of(again.headers["Location"])
    narrower = flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge, scope="reports:read"))
    assert narrower.status_code == 200 and "View your reports" in narrower.get_data(as_text=True)
    forced = flow.http.get(
        authorize_url(
            web_client.client_id, challenge=flow.challenge, scope="reports:read reports:write", prompt="consent"
        )
    )
    assert forced.status_code == 200 and 'value="allow"' in forced.get_data(as_text=True)


def test_consent_of_one_user_is_not_another_users(app: Flask, make_user, web_client) -> None:
    signed_in_flow(app, make_user, web_client.client_id).code()
    other = signed_in_flow(app, make_user, web_client.client_id)
    assert other.http.get(authorize_url(web_client.client_id, challenge=other.challenge)).status_code == 200


def test_prompt_none_answers_login_required_then_consent_required(app: Flask, make_user, web_client) -> None:
    issuer = state(app).settings.issuer
    challenge = pkce_pair()[1]
    http = app.test_client()
    resp = http.get(authorize_url(web_client.client_id, challenge=challenge, prompt="none", state="p1"))
    assert resp.status_code == 302
    assert query_of(resp.headers["Location"]) == {"error": "login_required", "state": "p1", "iss": issuer}

    flow = signed_in_flow(app, make_user, web_client.client_id)
    resp = flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge, prompt="none", state="p2"))
    assert query_of(resp.headers["Location"]) == {"error": "consent_required", "state": "p2", "iss": issuer}

    flow.code()
    resp = flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge, prompt="none", state="p3"))
    params = query_of(resp.headers["Location"])
    assert params["code"].startswith("asac_") and params["state"] == "p3"


def test_prompt_none_with_other_values_is_invalid_request(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    resp = flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge, prompt="none consent"))
    assert query_of(resp.headers["Location"])["error"] == "invalid_request"


def test_wrong_password_and_unknown_user_get_the_same_answer(app: Flask, make_user) -> None:
    username, _ = make_user()
    http = app.test_client()
    wrong = sign_in(http, username, "not the password")
    unknown = sign_in(http, "nobody-" + username, "not the password")
    for resp in (wrong, unknown):
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert "do not match an account" in resp.get_data(as_text=True)
    assert "You are signed in" not in http.get("/login").get_data(as_text=True)


def test_disabled_user_cannot_sign_in_and_is_signed_out(app: Flask, make_user, web_client) -> None:
    username, password = make_user()
    http = app.test_client()
    assert sign_in(http, username, password).status_code == 303
    db.session.execute(select(User).where(User.username == username)).scalar_one().is_active = False
    db.session.commit()
    resp = http.get(authorize_url(web_client.client_id, challenge=pkce_pair()[1]))
    assert resp.headers["Location"].startswith("/login?next=")
    assert sign_in(http, username, password).status_code == 400


def test_login_redirects_only_to_the_authorization_endpoint(app: Flask, make_user) -> None:
    for evil in ("https://evil.example/", "//evil.example/oauth/authorize", "/\\evil.example", "/login"):
        username, password = make_user()
        resp = sign_in(app.test_client(), username, password, next_url=evil)
        assert resp.status_code == 303 and resp.headers["Location"] == "/login"


@pytest.mark.parametrize("path", ["/login", "/oauth/authorize", "/logout"])
def test_posts_without_the_csrf_token_are_refused(app: Flask, make_user, web_client, path: str) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    url = authorize_url(web_client.client_id, challenge=flow.challenge)
    target = url if path == "/oauth/authorize" else path
    username, password = make_user()
    for form in ({"username": username, "password": password, "decision": "allow"},
                 {"username": username, "password": password, "decision": "allow", "csrf_token": "forged"}):
        resp = flow.http.post(target, data=form)
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert "did not come from this site" in resp.get_data(as_text=True)
    # still signed in as the first user, and no code was issued
    assert flow.http.get(url).status_code == 200


def test_a_csrf_token_from_another_session_is_refused(app: Flask, make_user, web_client) -> None:
    victim = signed_in_flow(app, make_user, web_client.client_id)
    attacker = app.test_client()
    foreign = csrf_of(attacker.get("/login").get_data(as_text=True))
    url = authorize_url(web_client.client_id, challenge=victim.challenge)
    resp = victim.http.post(url, data={"csrf_token": foreign, "decision": "allow"})
    assert resp.status_code == 400


def test_logout_ends_the_session(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    token = csrf_of(flow.http.get("/account").get_data(as_text=True))
    resp = flow.http.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 303
    assert "You are signed out" in flow.http.get(resp.headers["Location"]).get_data(as_text=True)
    again = flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge))
    assert again.headers["Location"].startswith("/login")


def test_session_lifetime_is_bounded_from_login(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    ttl = state(app).settings.session_ttl
    with flow.http.session_transaction() as session:
        assert session.permanent
    row = db.session.scalars(select(Session).order_by(Session.id.desc())).first()
    assert row is not None
    row.auth_time -= timedelta(seconds=ttl + 1)  # as if the login happened longer ago than session_ttl
    db.session.commit()
    resp = flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge))
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login?next=")


def test_session_cookie_is_httponly_and_samesite(app: Flask, make_user) -> None:
    http = app.test_client()
    resp = sign_in(http, *make_user())
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert re.search(r"Expires=", cookie)


def test_pages_resist_framing_and_leaking(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    pages = [
        app.test_client().get("/login"),
        flow.http.get(authorize_url(web_client.client_id, challenge=flow.challenge)),
        app.test_client().get("/oauth/authorize?client_id=nope&response_type=code"),
    ]
    for page in pages:
        csp = page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"
        html = page.get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', html), "a page loads a third-party resource"
        assert "<script" not in html and "style=" not in html
    css = app.test_client().get("/static/style.css")
    assert css.status_code == 200 and "http" not in css.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "response_type=code&client_id=no-such-client&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback",
        "response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback",
        "response_type=code&client_id={cid}&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback",
        "response_type=token&client_id={cid}&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback",
        "response_type=code&client_id={cid}&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&client_id={cid}",
        "",
    ],
)
def test_unknown_client_or_redirect_gets_a_page_never_a_redirect(app: Flask, web_client, query: str) -> None:
    resp = app.test_client().get("/oauth/authorize?" + query.format(cid=web_client.client_id))
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert resp.mimetype == "text/html" and "This sign-in link is not valid" in resp.get_data(as_text=True)


def test_redirect_uri_may_be_omitted_when_only_one_is_registered(app: Flask, make_user, web_client) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    url = authorize_url(web_client.client_id, redirect_uri=None, challenge=flow.challenge)
    resp = consent(flow.http, url)
    assert resp.headers["Location"].startswith(REDIRECT + "?code=")


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code token"}, "unsupported_response_type"),
        ({"scope": "reports:destroy"}, "invalid_scope"),
        ({"resource": "https://unregistered.example"}, "invalid_target"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
    ],
)
def test_other_errors_are_redirected_with_state_and_iss(app: Flask, make_user, web_client, extra, error: str) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    params = {"code_challenge": flow.challenge, "code_challenge_method": "S256", "state": "e1", **extra}
    url = authorize_url(web_client.client_id, **{k: v for k, v in params.items() if v is not None})
    resp = flow.http.get(url)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"].startswith(REDIRECT + "?")
    got = query_of(resp.headers["Location"])
    assert got["error"] == error and got["state"] == "e1"
    assert got["iss"] == state(app).settings.issuer
    assert "code" not in got


def test_client_without_the_authorization_code_grant_is_unauthorized(app: Flask, make_user, make_client) -> None:
    c = make_client(grant_types=["client_credentials"], redirect_uris=[REDIRECT])
    flow = signed_in_flow(app, make_user, c.client_id)
    resp = flow.http.get(authorize_url(c.client_id, challenge=flow.challenge, state="u1"))
    assert resp.status_code == 302
    assert query_of(resp.headers["Location"])["error"] == "unauthorized_client"


def test_authorize_rejects_other_methods_without_a_traceback(app: Flask) -> None:
    resp = app.test_client().put("/oauth/authorize")
    assert resp.status_code == 405
