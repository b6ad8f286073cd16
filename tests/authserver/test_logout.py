"""RP-Initiated Logout 1.0 at /oauth/logout: a valid id_token_hint for this browser's session
ends it and sends the person back to an exactly registered URI with state; anything less asks
first, a forged or foreign hint changes nothing, and the endpoint is never an open redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import Session, User
from authserver.models.sessions import LOGOUT as ENDED_BY_LOGOUT

from .authorize_helpers import REDIRECT, csrf_of, sign_in
from .id_tokens import id_token, stranger_key

COOKIE = "authserver_session"
AFTER = "https://app.example/cb"
OTHER_AFTER = "https://app.example/bye?from=logout"


@pytest.fixture
def rp(make_client):
    return make_client(name="Acme Reports", scope="openid profile", grant_types=["authorization_code"],
                       redirect_uris=[REDIRECT], post_logout_redirect_uris=[AFTER, OTHER_AFTER])


@pytest.fixture
def person(app: Flask, make_user) -> tuple[FlaskClient, Session]:
    """A signed-in browser and its session row."""
    username, password = make_user()
    http = app.test_client()
    assert sign_in(http, username, password).status_code == 303
    return http, _session_of(username)


def _session_of(username: str) -> Session:
    db.session.expire_all()
    row = db.session.scalar(
        select(Session).join(User).where(User.username == username).order_by(Session.id.desc()).limit(1))
    assert row is not None
    return row


def _ended(row: Session) -> bool:
    db.session.expire_all()
    fresh = db.session.get_one(Session, row.id)
    return fresh.ended_at is not None


def _hint(app: Flask, row: Session, client_id: str, **kw: Any) -> str:
    return id_token(app, row.user.subject, client_id, sid=row.public_id, **kw)


def _logout(http: FlaskClient, **params: str):
    return http.get("/oauth/logout?" + urlencode(params))


def _signed_in(http: FlaskClient) -> bool:
    return http.get("/account").status_code == 200


def test_a_valid_hint_ends_the_session_and_returns_with_state(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id), post_logout_redirect_uri=AFTER, state="s-1")
    assert resp.status_code == 303 and resp.headers["Location"] == AFTER + "?state=s-1"
    assert _ended(row) and db.session.get_one(Session, row.id).end_reason == ENDED_BY_LOGOUT
    assert not _signed_in(http)


def test_a_registered_uri_keeps_its_query_and_state_is_added(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id), post_logout_redirect_uri=OTHER_AFTER,
                   state="x y&z")
    assert resp.headers["Location"] == OTHER_AFTER + "&state=x+y%26z"


def test_without_a_redirect_uri_the_person_is_told_they_are_signed_out(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id), state="ignored", ui_locales="fr-CA en")
    assert resp.status_code == 200 and "You are signed out" in resp.get_data(as_text=True)
    assert "Acme Reports" in resp.get_data(as_text=True) and _ended(row)


def test_an_expired_hint_still_identifies_the_session(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id, exp=1, iat=0), post_logout_redirect_uri=AFTER)
    assert resp.status_code == 303 and _ended(row)


def test_a_copied_cookie_is_dead_after_logout(app: Flask, rp, person) -> None:
    http, row = person
    cookie = http.get_cookie(COOKIE)
    assert cookie is not None
    _logout(http, id_token_hint=_hint(app, row, rp.client_id))
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    assert thief.get("/account").status_code == 303 and not _signed_in(thief)


NEAR_MISSES = [
    "https://app.example/cb/../evil",
    "https://app.example/cb?extra=1",
    "https://app.example/cb/",
    "https://app.example/cB",
    "http://app.example/cb",
    "https://app.example:8443/cb",
    "https://app.example/cb#frag",
    "https://app.example.evil.example/cb",
    "https://evil.example/cb",
    "//evil.example/cb",
    "https://app.example/bye",  # the other registered URI without its query
    REDIRECT,  # registered for sign-in, not for logout
]


@pytest.mark.parametrize("uri", NEAR_MISSES)
def test_an_unregistered_uri_is_never_followed(app: Flask, rp, person, uri: str) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id), post_logout_redirect_uri=uri, state="s")
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "not registered" in resp.get_data(as_text=True)
    assert not _ended(row) and _signed_in(http)


def test_a_uri_registered_by_another_client_is_not_followed(app: Flask, rp, person, make_client) -> None:
    http, row = person
    other = make_client(name="Other", grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                        post_logout_redirect_uris=["https://other.example/bye"])
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id), post_logout_redirect_uri="https://other.example/bye")
    assert resp.status_code == 400 and "Location" not in resp.headers and not _ended(row)
    mixed = _logout(http, id_token_hint=_hint(app, row, rp.client_id), client_id=other.client_id,
                    post_logout_redirect_uri="https://other.example/bye")
    assert mixed.status_code == 400 and "Location" not in mixed.headers and not _ended(row)


def test_a_uri_without_a_client_to_check_it_against_is_refused(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, post_logout_redirect_uri=AFTER, state="s")
    assert resp.status_code == 400 and "Location" not in resp.headers and not _ended(row)


@pytest.mark.parametrize("forgery", ["stranger_key", "other_issuer", "access_token_type", "alg_none", "garbage"])
def test_a_hint_this_server_did_not_issue_is_refused(app: Flask, rp, person, forgery: str) -> None:
    http, row = person
    hints: dict[str, Callable[[], str]] = {
        "stranger_key": lambda: _hint(app, row, rp.client_id, key=stranger_key(app)),
        "other_issuer": lambda: _hint(app, row, rp.client_id, iss="https://evil.example"),
        "access_token_type": lambda: _hint(app, row, rp.client_id, header={"typ": "at+jwt"}),
        "alg_none": lambda: ".".join(_hint(app, row, rp.client_id).split(".")[:2]) + ".",
        "garbage": lambda: "not-a-token",
    }
    resp = _logout(http, id_token_hint=hints[forgery](), post_logout_redirect_uri=AFTER, state="s")
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "not valid" in resp.get_data(as_text=True)
    assert not _ended(row) and _signed_in(http)


def test_a_hint_of_another_persons_session_asks_first(app: Flask, rp, person, make_user) -> None:
    http, row = person
    their_name, their_password = make_user()
    assert sign_in(app.test_client(), their_name, their_password).status_code == 303
    their_row = _session_of(their_name)
    assert their_row.user_id != row.user_id
    resp = _logout(http, id_token_hint=_hint(app, their_row, rp.client_id), post_logout_redirect_uri=AFTER)
    assert resp.status_code == 200 and "Sign out?" in resp.get_data(as_text=True)
    assert not _ended(row) and not _ended(their_row)


def test_a_hint_of_an_earlier_session_asks_first(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=id_token(app, row.user.subject, rp.client_id, sid="an-earlier-session"))
    assert resp.status_code == 200 and "Sign out?" in resp.get_data(as_text=True) and not _ended(row)


def test_a_hint_without_sid_identifies_the_persons_session_by_sub(app: Flask, rp, person) -> None:
    http, row = person
    resp = _logout(http, id_token_hint=id_token(app, row.user.subject, rp.client_id), post_logout_redirect_uri=AFTER)
    assert resp.status_code == 303 and _ended(row)


def test_a_get_alone_never_ends_a_session(app: Flask, rp, person) -> None:
    http, row = person
    for params in ({}, {"client_id": rp.client_id, "post_logout_redirect_uri": AFTER, "state": "s"}):
        resp = _logout(http, **params)
        assert resp.status_code == 200 and "Sign out?" in resp.get_data(as_text=True)
    assert not _ended(row) and _signed_in(http)


def test_the_confirmation_form_ends_the_session_and_returns(app: Flask, rp, person) -> None:
    http, row = person
    page = _logout(http, client_id=rp.client_id, post_logout_redirect_uri=AFTER, state="s-2").get_data(as_text=True)
    assert "Acme Reports" in page
    form = {"csrf_token": csrf_of(page), "confirm": "1", "client_id": rp.client_id,
            "post_logout_redirect_uri": AFTER, "state": "s-2"}
    resp = http.post("/oauth/logout", data=form)
    assert resp.status_code == 303 and resp.headers["Location"] == AFTER + "?state=s-2" and _ended(row)


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_the_confirmation_form_without_its_csrf_token_is_refused(app: Flask, rp, person, token: str | None) -> None:
    http, row = person
    _logout(http)  # the confirmation page, as a forger would have the person's browser open it
    form = {"confirm": "1", "client_id": rp.client_id, "post_logout_redirect_uri": AFTER}
    if token is not None:
        form["csrf_token"] = token
    resp = http.post("/oauth/logout", data=form)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert not _ended(row) and _signed_in(http)


def test_a_clients_form_post_with_a_valid_hint_ends_the_session(app: Flask, rp, person) -> None:
    http, row = person
    resp = http.post("/oauth/logout", data={"id_token_hint": _hint(app, row, rp.client_id),
                                            "post_logout_redirect_uri": AFTER, "state": "p"})
    assert resp.status_code == 303 and resp.headers["Location"] == AFTER + "?state=p" and _ended(row)


def test_a_cross_site_post_without_the_cookie_is_asked_again_by_get(app: Flask, rp, person) -> None:
    """SameSite=Lax keeps the cookie off a cross-site POST; the redirect's GET carries it."""
    http, row = person
    hint = _hint(app, row, rp.client_id)
    resp = app.test_client().post("/oauth/logout", data={
        "id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "q", "_external": "1"})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/oauth/logout?")
    assert "_external" not in resp.headers["Location"] and not _ended(row)
    followed = http.get(resp.headers["Location"])
    assert followed.status_code == 303 and followed.headers["Location"] == AFTER + "?state=q" and _ended(row)


def test_signed_out_visitors_are_sent_back_or_told(app: Flask, rp) -> None:
    anonymous = app.test_client()
    resp = _logout(anonymous, client_id=rp.client_id, post_logout_redirect_uri=AFTER, state="t")
    assert resp.status_code == 303 and resp.headers["Location"] == AFTER + "?state=t"
    assert "You are signed out" in _logout(anonymous).get_data(as_text=True)


def test_client_id_must_be_the_hints_audience(app: Flask, rp, person, make_client) -> None:
    http, row = person
    other = make_client(name="Other")
    resp = _logout(http, id_token_hint=_hint(app, row, rp.client_id), client_id=other.client_id)
    assert resp.status_code == 400 and not _ended(row)


def test_the_account_pages_sign_out_still_works(app: Flask, person) -> None:
    http, row = person
    token = csrf_of(http.get("/account").get_data(as_text=True))
    assert http.post("/logout", data={"csrf_token": token}).status_code == 303
    assert _ended(row) and not _signed_in(http)


def test_logout_over_real_http(live_server, app: Flask, rp, make_user) -> None:
    username, password = make_user()
    browser = requests.Session()
    page = browser.get(live_server.url + "/login", timeout=10)
    form = {"csrf_token": csrf_of(page.text), "username": username, "password": password}
    signed = browser.post(live_server.url + "/login", data=form, allow_redirects=False, timeout=10)
    assert signed.status_code == 303
    row = _session_of(username)
    stolen = dict(browser.cookies)
    with app.app_context():
        hint = _hint(app, row, rp.client_id)
    resp = browser.get(live_server.url + "/oauth/logout", params={
        "id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "live"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 303 and resp.headers["Location"] == AFTER + "?state=live" and _ended(row)
    replay = requests.get(live_server.url + "/account", cookies=stolen, allow_redirects=False, timeout=10)
    assert replay.status_code == 303 and "/login" in replay.headers["Location"]


@pytest.mark.parametrize("params", [
    {"id_token_hint": "\x00"},
    {"id_token_hint": "e30.e30."},  # {} . {} . no signature
    {"id_token_hint": "eyJhbGciOiJub25lIn0.e30."},  # alg none
    {"id_token_hint": "a.b.c" * 5000},
    {"client_id": "\x00", "post_logout_redirect_uri": AFTER},
    {"client_id": "ü" * 100, "post_logout_redirect_uri": AFTER},
    {"post_logout_redirect_uri": "\x00"},
    {"state": "\x00"},
])
def test_hostile_input_gets_a_page_and_changes_nothing(app: Flask, rp, person, params: dict[str, str]) -> None:
    http, row = person
    for resp in (_logout(http, **params), http.post("/oauth/logout", data=params)):
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert "text/html" in resp.headers["Content-Type"]
    assert not _ended(row) and _signed_in(http)
