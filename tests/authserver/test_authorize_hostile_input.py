"""The front channel under hostile parameters: every value of every parameter of the
authorization endpoint, its consent POST and the login redirect gets an error page, the
RFC 6749 §4.1.2.1 redirect or the ordinary flow, never a 5xx.

Authlib refuses to build an error whose ``error_description`` holds ``"``, ``\\`` or
non-ASCII text (RFC 6749 §4.1.2.1 forbids them) and raises ``ValueError`` instead, so an
error that quotes the request must not reach it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .authorize_helpers import REDIRECT, csrf_of, pkce_pair, query_of, sign_in

HOSTILE = ['"', "\\", "bücher", "https://bücher.example/callback", "x\x00y", "\u2028", "\x7f", "é" * 3000, "a" * 9000]
PARAMETERS = ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
              "code_challenge_method", "resource", "prompt", "nonce", "response_mode", "request", "max_age"]


@pytest.fixture
def web_client(make_client):
    return make_client(name="Bücher \"Shop\"", scope="reports:read", grant_types=["authorization_code"],
                       redirect_uris=[REDIRECT])


def _query(client_id: str, name: str, value: str, repeated: bool) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s1",
              "code_challenge": pkce_pair()[1], "code_challenge_method": "S256", "scope": "reports:read"}
    params[name] = value
    return urlencode([*params.items(), *([(name, "again")] if repeated else [])])


def _signed_in(app: Flask, make_user) -> FlaskClient:
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    return http


@pytest.mark.parametrize(
    ("name", "value"),
    [("redirect_uri", "https://bücher.example/callback"), ("redirect_uri", 'https://app.example/"x"'),
     ("redirect_uri", "https://app.example/\\"), ("response_type", "bücher"), ("response_type", 'code"')],
)
def test_reported_cases_get_the_error_page_not_a_500(app: Flask, web_client, name: str, value: str) -> None:
    resp = app.test_client().get("/oauth/authorize?" + _query(web_client.client_id, name, value, repeated=False))
    if name == "redirect_uri":  # unregistered: a page, never a redirect
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert "This sign-in link is not valid" in resp.get_data(as_text=True)
        assert "This redirect_uri is not registered for the client." in resp.get_data(as_text=True)
    else:  # the redirect URI is registered: the error goes back to the client (§4.1.2.1)
        assert resp.status_code == 302 and resp.headers["Location"].startswith(REDIRECT + "?")
        got = query_of(resp.headers["Location"])
        assert got["error"] == "unsupported_response_type" and got["state"] == "s1"


def test_unsupported_response_type_with_an_unregistered_redirect_uri_is_a_page(app: Flask, web_client) -> None:
    query = urlencode({"response_type": "tökén", "client_id": web_client.client_id,
                       "redirect_uri": "https://bücher.example/"})
    resp = app.test_client().get("/oauth/authorize?" + query)
    assert resp.status_code == 400 and "Location" not in resp.headers


@pytest.mark.parametrize("name", PARAMETERS)
def test_no_value_of_any_parameter_causes_a_server_error(
    app: Flask, make_user, web_client, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    anonymous, signed_in = app.test_client(), _signed_in(app, make_user)
    consent_page = signed_in.get("/oauth/authorize?" + _query(web_client.client_id, "state", "ok", False))
    csrf = csrf_of(consent_page.get_data(as_text=True))
    caplog.set_level(logging.ERROR)
    for value in HOSTILE:
        for repeated in (False, True):
            url = "/oauth/authorize?" + _query(web_client.client_id, name, value, repeated)
            answers = [anonymous.get(url), signed_in.get(url),
                       signed_in.post(url, data={"csrf_token": csrf, "decision": "allow"}),
                       signed_in.post(url, data={"csrf_token": csrf, "decision": value}),
                       anonymous.get("/login?" + urlencode({"next": url}))]
            for resp in answers:
                assert resp.status_code < 500, (name, value, repeated, resp.get_data(as_text=True)[:300])
                if resp.status_code in (302, 303):  # a redirect goes to a registered URI or stays here
                    assert resp.headers["Location"].startswith((REDIRECT + "?", "/login?", "/oauth/authorize?"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("field", ["username", "password", "next", "csrf_token"])
def test_a_nul_byte_in_the_login_form_is_a_page_not_a_500(app: Flask, field: str) -> None:
    """PostgreSQL refuses a NUL in any query: the page turns it away before a read."""
    http = app.test_client()
    form = {"csrf_token": csrf_of(http.get("/login").get_data(as_text=True)), "username": "alice",
            "password": "correct horse battery", "next": "/oauth/authorize"}
    form[field] = form[field] + "\x00"
    resp = http.post("/login", data=form)
    assert resp.status_code == 400 and "A parameter holds a NUL byte." in resp.get_data(as_text=True)


def test_login_next_with_hostile_text_stays_on_this_server(app: Flask, make_user) -> None:
    http = app.test_client()
    page = http.get("/login")
    name, password = make_user()
    for nxt in ["/oauth/authorize?x=\x00", "/oauth/authorize\\evil", "https://bücher.example/", "//evil.example"]:
        resp = http.post("/login", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "username": name,
                                         "password": password, "next": nxt})
        assert resp.status_code < 500
        assert not resp.headers.get("Location", "/").startswith(("//", "https:", "http:"))
