"""Signing out in real headless chromium against the real server: from the account page, and
RP-initiated logout (the confirmation page without a hint, none with a valid one)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import Session, User
from tests.authserver.id_tokens import id_token

from .authorize_flow import Callback
from .test_browser_flow import _sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def rp(make_client, callback: Callback):
    return make_client(name="Acme Reports Web", scope="openid profile", grant_types=["authorization_code"],
                       redirect_uris=[callback.redirect_uri], post_logout_redirect_uris=[callback.redirect_uri])


def _signed_in(tab, live_server, make_user) -> str:
    username, password = make_user()
    tab.goto(live_server.url + "/login")
    _sign_in(tab, username, password)
    tab.wait_for_url(live_server.url + "/account")
    return username


def _asks_to_sign_in(tab, live_server) -> bool:
    tab.goto(live_server.url + "/account")
    return tab.url == live_server.url + "/login" and tab.get_by_label("Password").is_visible()


def test_sign_out_from_the_account_page(live_server, page, make_user) -> None:
    _signed_in(page, live_server, make_user)
    assert "You are signed in" in page.inner_text("h1")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live_server.url + "/login?signed_out=1")
    assert "You are signed out" in page.inner_text("main")
    assert _asks_to_sign_in(page, live_server)


def test_logout_without_a_hint_asks_then_returns_with_state(
    live_server, page, make_user, rp, callback: Callback
) -> None:
    _signed_in(page, live_server, make_user)
    page.goto(live_server.url + "/oauth/logout?" + urlencode({
        "client_id": rp.client_id, "post_logout_redirect_uri": callback.redirect_uri, "state": "bye-1"}))
    assert "Sign out?" in page.inner_text("h1") and "Acme Reports Web" in page.inner_text("main")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    assert callback.received[-1] == {"state": "bye-1"}
    assert _asks_to_sign_in(page, live_server)


def test_logout_with_a_valid_hint_needs_no_confirmation(
    live_server, app: Flask, page, make_user, rp, callback: Callback
) -> None:
    username = _signed_in(page, live_server, make_user)
    row = db.session.scalar(select(Session).join(User).where(User.username == username))
    assert row is not None
    hint = id_token(app, row.user.subject, rp.client_id, sid=row.public_id)
    page.goto(live_server.url + "/oauth/logout?" + urlencode({
        "id_token_hint": hint, "post_logout_redirect_uri": callback.redirect_uri, "state": "bye-2"}))
    page.wait_for_url(callback.redirect_uri + "?**")
    assert callback.received[-1] == {"state": "bye-2"}
    assert _asks_to_sign_in(page, live_server)
