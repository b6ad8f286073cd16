"""The whole authorization-code flow in real headless chromium against the real server:
sign in, approve, land on the client's loopback redirect with a code, redeem it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import free_port

from .authorize_flow import Callback, callback_listener, pkce_pair

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def app_client(make_client, callback: Callback):
    return make_client(name="Acme Reports Desktop", scope="reports:read reports:write",
                       grant_types=["authorization_code", "refresh_token"], redirect_uris=[callback.redirect_uri],
                       public=True)


def _authorize_url(server_url: str, client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
    return server_url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "reports:read",
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
    })


def _sign_in(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_approve_and_redeem(live_server, page, callback: Callback, app_client, make_user) -> None:
    username, password = make_user()
    verifier, challenge = pkce_pair()
    response = page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, challenge, "b1"))
    assert response is not None and response.ok and "/login" in page.url
    assert "Acme Reports Desktop" in page.content()
    _sign_in(page, username, password)

    page.get_by_role("button", name="Allow").wait_for()
    assert "Acme Reports Desktop" in page.inner_text("h1")
    assert "View your reports" in page.inner_text("main")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    assert page.get_by_text("You can close this window").is_visible()

    params = callback.received[-1]
    assert params["state"] == "b1" and params["iss"] == live_server.url and params["code"].startswith("asac_")
    token = requests.post(live_server.url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": params["code"], "redirect_uri": callback.redirect_uri,
        "client_id": app_client.client_id, "code_verifier": verifier}, timeout=10)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["scope"] == "reports:read" and body["refresh_token"].startswith("asrt_")
    replay = requests.post(live_server.url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": params["code"], "redirect_uri": callback.redirect_uri,
        "client_id": app_client.client_id, "code_verifier": verifier}, timeout=10)
    assert replay.json()["error"] == "invalid_grant"
    log = live_server.log_text()
    assert params["code"] not in log and password not in log and body["refresh_token"] not in log


def test_second_authorization_skips_consent(live_server, page, callback: Callback, app_client, make_user) -> None:
    username, password = make_user()
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "c1"))
    _sign_in(page, username, password)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "c2"))
    page.wait_for_url(callback.redirect_uri + "?**")
    assert callback.received[-1]["state"] == "c2" and "code" in callback.received[-1]


def test_deny_returns_access_denied(live_server, page, callback: Callback, app_client, make_user) -> None:
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "d1"))
    _sign_in(page, *make_user())
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    got = callback.received[-1]
    assert (got["error"], got["state"], got["iss"]) == ("access_denied", "d1", live_server.url) and "code" not in got


def test_wrong_password_stays_on_the_login_page(live_server, page, callback: Callback, app_client, make_user) -> None:
    username, _ = make_user()
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "w1"))
    _sign_in(page, username, "wrong password!")
    alert = page.get_by_role("alert")
    assert "do not match an account" in alert.inner_text()
    assert "/login" in page.url and page.get_by_label("Username").input_value() == username
    assert callback.received == []


def test_login_without_the_csrf_token_is_refused(live_server, page, callback: Callback, app_client, make_user) -> None:
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "x1"))
    page.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    _sign_in(page, *make_user())
    assert "did not come from this site" in page.inner_text("main")
    assert callback.received == []


def test_cross_site_consent_post_is_refused(live_server, page, callback: Callback, app_client, make_user) -> None:
    """An attacker's page auto-submits the consent form for a signed-in user: the session
    cookie goes along (SameSite ignores ports), the CSRF token cannot, so no code."""
    username, password = make_user()
    page.goto(live_server.url + "/login")
    _sign_in(page, username, password)
    assert "You are signed in" in page.inner_text("h1")
    target = _authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "a1")
    callback.pages["/attack"] = (
        f'<!doctype html><form id="f" method="post" action="{target.replace("&", "&amp;")}">'
        '<input name="decision" value="allow"></form><script>document.getElementById("f").submit()</script>'
    )
    page.goto(callback.url + "/attack")
    page.wait_for_url(live_server.url + "/oauth/authorize?**")
    assert "did not come from this site" in page.inner_text("main")
    assert callback.received == []


def test_pages_cannot_be_framed(live_server, page, callback: Callback) -> None:
    response = page.goto(live_server.url + "/login")
    assert response is not None
    headers = response.headers
    assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]
    callback.pages["/frame"] = f'<!doctype html><iframe id="f" src="{live_server.url}/login"></iframe>'
    with page.expect_response(live_server.url + "/login"):
        page.goto(callback.url + "/frame")
    page.wait_for_load_state("load")  # the frame's load ends too, with chromium's block page
    framed = [f for f in page.frames if f != page.main_frame]
    assert len(framed) == 1 and not framed[0].url.startswith(live_server.url)
    assert framed[0].locator('input[name="password"]').count() == 0


def test_account_page_ends_this_session_and_its_copies(live_server, page, make_user) -> None:
    """Sign in, find this browser on the account page, end it there: signed out, and the
    cookie as it was before (a copy someone took) signs nobody in either."""
    page.goto(live_server.url + "/login")
    _sign_in(page, *make_user())
    page.wait_for_url(live_server.url + "/account")
    this_one = page.locator("li[data-session]", has_text="This browser")
    assert this_one.count() == 1 and "Chrome on Linux" in this_one.inner_text()
    assert "Signed in" in this_one.inner_text() and "127.0.0.0/24" in this_one.inner_text()
    copied = page.context.cookies()

    this_one.get_by_role("button", name="End").click()
    page.wait_for_url(live_server.url + "/login?signed_out=1")
    assert "You are signed out" in page.inner_text("main")
    page.goto(live_server.url + "/account")
    assert page.url == live_server.url + "/login" and page.get_by_label("Password").is_visible()

    thief = page.context.browser.new_context()
    try:
        thief.add_cookies(copied)
        stolen = thief.new_page()
        stolen.goto(live_server.url + "/account")
        assert stolen.url == live_server.url + "/login" and "You are signed in" not in stolen.content()
    finally:
        thief.close()


def test_account_page_revokes_an_application(live_server, page, callback: Callback, app_client, make_user) -> None:
    verifier, challenge = pkce_pair()
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, challenge, "r1"))
    _sign_in(page, *make_user())
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    tokens = requests.post(live_server.url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": callback.received[-1]["code"],
        "redirect_uri": callback.redirect_uri, "client_id": app_client.client_id, "code_verifier": verifier},
        timeout=10).json()

    page.goto(live_server.url + "/account")
    approval = page.get_by_role("list", name="Applications you allowed").locator("li", has_text="Acme Reports Desktop")
    assert "View your reports" in approval.inner_text()
    activity = page.get_by_role("list", name="Recent security activity")
    assert "Allowed Acme Reports Desktop" in activity.inner_text() and "Signed in" in activity.inner_text()
    page.get_by_role("button", name="Revoke access: Acme Reports Desktop").click()
    page.wait_for_url(live_server.url + "/account")
    assert page.get_by_role("list", name="Applications you allowed").count() == 0
    assert "You have not allowed any application yet" in page.inner_text("main")
    assert "Revoked access for Acme Reports Desktop" in activity.locator("li").first.inner_text()

    refreshed = requests.post(live_server.url + "/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": app_client.client_id},
        timeout=10)
    assert refreshed.json()["error"] == "invalid_grant"
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "r2"))
    page.get_by_role("button", name="Allow").wait_for()  # asked again: the approval is gone


FETCH_JSON = """async ([url, form]) => {
    try {
        const resp = await fetch(url, form ? {method: "POST", body: new URLSearchParams(form)} : {});
        return {status: resp.status, body: await resp.json()};
    } catch (error) {
        return {failed: String(error)};
    }
}"""


@pytest.fixture
def spa() -> Iterator[Callback]:
    """The single-page app's own origin, another loopback port than the server's."""
    with callback_listener() as cb:
        cb.pages["/"] = "<!doctype html><title>SPA</title><p>Reports</p>"
        yield cb


@pytest.fixture
def cors_server(migrated_app, server_settings: dict[str, Any], spa: Callback, tmp_path: Path) -> Iterator[LiveServer]:
    """The real server with the SPA's origin (and only it) in AUTHSERVER_CORS_ALLOWED_ORIGINS."""
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}", "cors_allowed_origins": spa.url}
    server = start_server(settings, tmp_path / "server.log", workers=1)
    yield server
    stop_server(server)


def test_a_listed_origin_redeems_its_code_with_fetch(cors_server, page, spa: Callback, make_user, make_client) -> None:
    """A browser app signs a person in, lands back on its own origin with the code, and
    redeems it with fetch() (public client, PKCE): it reads metadata, errors and tokens."""
    client = make_client(name="Reports SPA", scope="reports:read", grant_types=["authorization_code"],
                         redirect_uris=[spa.redirect_uri], public=True)
    page.goto(spa.url + "/")
    metadata = page.evaluate(FETCH_JSON, [cors_server.url + "/.well-known/oauth-authorization-server", None])
    assert metadata["status"] == 200 and metadata["body"]["issuer"] == cors_server.url
    token_url = metadata["body"]["token_endpoint"]
    refused = page.evaluate(FETCH_JSON, [token_url, {"grant_type": "authorization_code", "code": "asac_nope",
                                                     "client_id": client.client_id}])
    assert refused["status"] == 400 and refused["body"]["error"] == "invalid_grant"

    verifier, challenge = pkce_pair()
    page.goto(_authorize_url(cors_server.url, client.client_id, spa.redirect_uri, challenge, "s1"))
    _sign_in(page, *make_user())
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(spa.redirect_uri + "?**")
    code = spa.received[-1]["code"]
    issued = page.evaluate(FETCH_JSON, [token_url, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": spa.redirect_uri,
        "client_id": client.client_id, "code_verifier": verifier}])
    assert issued["status"] == 200 and issued["body"]["scope"] == "reports:read", issued


def test_an_unlisted_origin_cannot_read_the_server(cors_server, page, callback: Callback) -> None:
    """Another origin on the same host, not listed: the browser blocks every read."""
    callback.pages["/"] = "<!doctype html><title>Elsewhere</title>"
    page.goto(callback.url + "/")
    for url, form in [(cors_server.url + "/.well-known/oauth-authorization-server", None),
                      (cors_server.url + "/oauth/token", {"grant_type": "client_credentials"})]:
        result = page.evaluate(FETCH_JSON, [url, form])
        assert "failed" in result and "Failed to fetch" in result["failed"], result


def _live_session(app, username: str):
    """The person's live session row, read from the server's database."""
    from sqlalchemy import select

    from authserver.extensions import db
    from authserver.models import Session, User

    with app.app_context():
        row = db.session.scalar(select(Session).join(User).where(User.username == username,
                                                                 Session.ended_at.is_(None)))
        assert row is not None
        db.session.expunge(row)
        return row


def _approve_once(page, live_server, migrated_app, callback: Callback, app_client, make_user):
    """A new person signs in and approves the client; returns them with their session."""
    username, password = make_user()
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "first"))
    _sign_in(page, username, password)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    return username, password, _live_session(migrated_app, username)


def _sign_in_again_for(page, live_server, callback: Callback, app_client, password: str, state: str,
                       extra: str) -> str:
    """Open an authorization request (``extra`` appended), land on the login page, give the
    password again, and arrive at the client with a code; returns the prefilled username."""
    page.goto(_authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], state)
              + extra)
    assert "/login" in page.url
    prefilled: str = page.get_by_label("Username").input_value()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(callback.redirect_uri + "?**")
    assert callback.received[-1]["state"] == state and callback.received[-1]["code"].startswith("asac_")
    return prefilled


def test_prompt_login_asks_a_signed_in_person_to_sign_in_again(
    live_server, migrated_app, page, callback: Callback, app_client, make_user
) -> None:
    username, password, before = _approve_once(page, live_server, migrated_app, callback, app_client, make_user)

    prefilled = _sign_in_again_for(page, live_server, callback, app_client, password, "again", "&prompt=login")
    assert prefilled == username  # the login page came, prefilled with who is signed in
    after = _live_session(migrated_app, username)
    assert after.public_id != before.public_id and after.auth_time > before.auth_time


def test_max_age_makes_an_old_sign_in_sign_in_again(
    live_server, migrated_app, page, callback: Callback, app_client, make_user
) -> None:
    from sqlalchemy import update

    from authserver.extensions import db
    from authserver.models import Session

    username, password, old = _approve_once(page, live_server, migrated_app, callback, app_client, make_user)
    with migrated_app.app_context():  # as if the person signed in ten minutes ago
        db.session.execute(update(Session).where(Session.id == old.id)
                           .values(auth_time=old.auth_time - timedelta(minutes=10)))
        db.session.commit()

    assert _sign_in_again_for(page, live_server, callback, app_client, password, "aged", "&max_age=60") == username
    fresh = _live_session(migrated_app, username)
    assert fresh.auth_time > old.auth_time

    again = _authorize_url(live_server.url, app_client.client_id, callback.redirect_uri, pkce_pair()[1], "recent")
    page.goto(again + "&max_age=60")  # the new sign-in is recent enough: straight back with a code
    page.wait_for_url(callback.redirect_uri + "?**")
    assert callback.received[-1]["state"] == "recent" and "code" in callback.received[-1]
