"""Driving the authorization-code flow through Flask's test client, as a browser would:
sign in with the login form, answer the consent form, read the redirect."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from .helpers import basic

REDIRECT = "https://app.example/callback"
NATIVE_REDIRECT = "http://127.0.0.1:8765/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_url(
    client_id: str, redirect_uri: str | None = REDIRECT, challenge: str | None = None, **extra: str
) -> str:
    params = {"response_type": "code", "client_id": client_id, "state": "st-" + secrets.token_hex(4)}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return "/oauth/authorize?" + urlencode(params)


def sign_in(http: FlaskClient, username: str, password: str, next_url: str | None = None) -> TestResponse:
    page = http.get("/login")
    form = {"csrf_token": csrf_of(page.get_data(as_text=True)), "username": username, "password": password}
    if next_url:
        form["next"] = next_url
    return http.post("/login", data=form)


def consent(http: FlaskClient, url: str, decision: str = "allow") -> TestResponse:
    """Open the consent page for ``url`` and press a button; returns the POST's response."""
    page = http.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return http.post(url, data={"csrf_token": csrf_of(page.get_data(as_text=True)), "decision": decision})


@dataclass
class Flow:
    """One signed-in browser and a PKCE pair, ready to get codes for a client."""

    app: Flask
    http: FlaskClient
    client_id: str
    redirect_uri: str = REDIRECT
    verifier: str = ""
    challenge: str = ""

    def code(self, **extra: str) -> str:
        url = authorize_url(self.client_id, self.redirect_uri, self.challenge or None, **extra)
        resp = consent(self.http, url)
        assert resp.status_code == 303, resp.get_data(as_text=True)
        params = query_of(resp.headers["Location"])
        assert resp.headers["Location"].startswith(self.redirect_uri + "?")
        return params["code"]

    def redeem(self, code: str, auth: tuple[str, str] | None = None, **form: Any) -> TestResponse:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if self.verifier:
            data["code_verifier"] = self.verifier
        if auth is None:
            data["client_id"] = self.client_id
        data.update(form)
        data = {k: v for k, v in data.items() if v is not None}
        return self.app.test_client().post("/oauth/token", data=data, headers=basic(*auth) if auth else {})


def signed_in_flow(app: Flask, make_user, client_id: str, redirect_uri: str = REDIRECT, pkce: bool = True) -> Flow:
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    verifier, challenge = pkce_pair() if pkce else ("", "")
    return Flow(app, http, client_id, redirect_uri, verifier, challenge)


def refresh(
    app: Flask, refresh_token: str, client_id: str | None = None, auth: tuple[str, str] | None = None, **form: str
) -> TestResponse:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **form}
    if client_id is not None:
        data["client_id"] = client_id
    return app.test_client().post("/oauth/token", data=data, headers=basic(*auth) if auth else {})
