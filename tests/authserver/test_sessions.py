"""Server-side sessions: a sign-in is a row found by the keyed hash of the cookie's secret,
so logout, the account page, disabling a user or changing their password ends it for every
copy of the cookie; the account page shows and ends only the person's own sessions and
approvals, and revoking an approval takes back the client's tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import Consent, Session, User
from authserver.models.types import utcnow
from authserver.web.devices import device_summary, network_of

from .authorize_helpers import REDIRECT, csrf_of, sign_in, signed_in_flow
from .helpers import basic, introspect

COOKIE = "authserver_session"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def web_client(make_client):
    return make_client(name="Acme Reports", scope="reports:read reports:write",
                       grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT])


def _signed_in(app: Flask, username: str, password: str, user_agent: str = FIREFOX) -> FlaskClient:
    http = app.test_client()
    http.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR="203.0.113.77")
    assert sign_in(http, username, password).status_code == 303
    return http


def _is_signed_in(http: FlaskClient) -> bool:
    resp = http.get("/account")
    assert resp.status_code in (200, 303)
    return resp.status_code == 200


def _copy(http: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding an exact copy of ``http``'s cookie (as a thief would)."""
    cookie = http.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def _sessions_of(username: str) -> list[Session]:
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    return list(db.session.scalars(select(Session).where(Session.user_id == user.id).order_by(Session.id)))


def _post(http: FlaskClient, path: str) -> int:
    token = csrf_of(http.get("/account").get_data(as_text=True))
    return http.post(path, data={"csrf_token": token}).status_code


def test_the_cookie_secret_is_stored_only_as_its_keyed_hash(app: Flask, make_user) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    with http.session_transaction() as cookie_session:
        secret = cookie_session["sign_in"]
    raw_cookie = http.get_cookie(COOKIE)
    assert raw_cookie is not None and secret.startswith("asbs_")
    (row,) = _sessions_of(username)
    assert row.secret_hash == state(app).hasher.hash(secret)
    everything = " ".join(str(v) for r in db.session.execute(text("SELECT * FROM sessions")) for v in r)
    assert secret not in everything and raw_cookie.value not in everything
    assert row.public_id not in secret and row.amr == ["pwd"]
    assert (row.device, row.ip_prefix) == ("Firefox on Linux", "203.0.113.0/24")


def test_a_copied_cookie_dies_with_logout(app: Flask, make_user) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    thief = _copy(http, app)
    assert _is_signed_in(thief)
    assert _post(http, "/logout") == 303
    assert not _is_signed_in(http) and not _is_signed_in(thief)
    (row,) = _sessions_of(username)
    assert row.ended_at is not None and row.end_reason == "logout"


def test_a_stale_cookie_is_cleared(app: Flask, make_user) -> None:
    http = _signed_in(app, *make_user())
    thief = _copy(http, app)
    _post(http, "/logout")
    resp = thief.get("/account")
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert "authserver_session=;" in resp.headers["Set-Cookie"]  # deleted, not kept


def test_a_forged_or_garbled_secret_signs_nobody_in(app: Flask, make_user) -> None:
    http = _signed_in(app, *make_user())
    for forged in ("asbs_" + "A" * 36, "not a token", 12345, ["asbs_x"]):
        with http.session_transaction() as cookie_session:
            cookie_session["sign_in"] = forged
        assert not _is_signed_in(http)


def test_a_planted_cookie_is_not_signed_in_by_the_victims_login(app: Flask, make_user) -> None:
    """Session fixation: the attacker's cookie, planted before the victim signs in, stays anonymous."""
    attacker = app.test_client()
    attacker.get("/login")
    victim = _copy(attacker, app)
    assert sign_in(victim, *make_user()).status_code == 303
    assert _is_signed_in(victim) and not _is_signed_in(attacker)


def test_signing_in_again_ends_the_previous_session(app: Flask, make_user) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    old = _copy(http, app)
    token = csrf_of(http.get("/account").get_data(as_text=True))  # a login form opened earlier
    form = {"csrf_token": token, "username": username, "password": password}
    assert http.post("/login", data=form).status_code == 303
    first, second = _sessions_of(username)
    assert first.ended_at is not None and second.ended_at is None
    assert not _is_signed_in(old) and _is_signed_in(http)


def test_disabling_a_user_ends_every_session(app: Flask, make_user) -> None:
    username, password = make_user()
    browsers = [_signed_in(app, username, password) for _ in range(2)]
    bystander = _signed_in(app, *make_user())
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "disable", username]).exit_code == 0
    assert not any(_is_signed_in(b) for b in browsers) and _is_signed_in(bystander)
    assert {(s.end_reason, s.ended_at is not None) for s in _sessions_of(username)} == {("user_disabled", True)}
    assert runner.invoke(args=["users", "enable", username]).exit_code == 0
    assert not any(_is_signed_in(b) for b in browsers)  # enabling does not bring them back
    assert _is_signed_in(_signed_in(app, username, password))


def test_a_password_change_ends_every_session(app: Flask, make_user) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    thief = _copy(http, app)
    result = app.test_cli_runner().invoke(args=["users", "set-password", username, "--password-stdin"],
                                          input="a brand new passphrase\n")
    assert result.exit_code == 0, result.output
    assert not _is_signed_in(http) and not _is_signed_in(thief)
    assert {s.end_reason for s in _sessions_of(username)} == {"password_changed"}
    assert sign_in(app.test_client(), username, password).status_code == 400
    assert _is_signed_in(_signed_in(app, username, "a brand new passphrase"))


@pytest.mark.parametrize("column", ["expires_at", "auth_time"])
def test_a_session_expires_absolutely(app: Flask, make_user, column: str) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    (row,) = _sessions_of(username)
    ttl = timedelta(seconds=state(app).settings.session_ttl)
    setattr(row, column, getattr(row, column) - ttl - timedelta(seconds=1))
    db.session.commit()
    assert not _is_signed_in(http)


def test_the_account_page_lists_sessions_and_marks_this_one(app: Flask, make_user) -> None:
    username, password = make_user()
    _signed_in(app, username, password, user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
               "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
    http = _signed_in(app, username, password)
    someone, their_password = make_user()
    _signed_in(app, someone, their_password, user_agent="curl/8.5.0")  # someone else's
    page = http.get("/account").get_data(as_text=True)
    assert page.count('data-session="') == 2
    assert "Safari on iOS" in page and "Firefox on Linux" in page and "curl" not in page
    assert page.count("This browser") == 1 and "203.0.113.0/24" in page and "203.0.113.77" not in page


def test_ending_another_session_from_the_account_page(app: Flask, make_user) -> None:
    username, password = make_user()
    laptop, phone = _signed_in(app, username, password), _signed_in(app, username, password)
    phone_session = _sessions_of(username)[1]
    assert _post(laptop, f"/account/sessions/{phone_session.public_id}/end") == 303
    assert _is_signed_in(laptop) and not _is_signed_in(phone)
    assert _sessions_of(username)[1].end_reason == "ended_by_user"


def test_ending_this_session_signs_out(app: Flask, make_user) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    (row,) = _sessions_of(username)
    token = csrf_of(http.get("/account").get_data(as_text=True))
    resp = http.post(f"/account/sessions/{row.public_id}/end", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/login?signed_out=1"
    assert not _is_signed_in(http)


def test_end_all_other_sessions_keeps_this_one(app: Flask, make_user) -> None:
    username, password = make_user()
    others = [_signed_in(app, username, password) for _ in range(2)]
    http = _signed_in(app, username, password)
    assert _post(http, "/account/sessions/end-others") == 303
    assert _is_signed_in(http) and not any(_is_signed_in(o) for o in others)


def test_ending_someone_elses_session_by_its_id_is_refused(app: Flask, make_user) -> None:
    """IDOR: the attacker knows the victim's public session id and posts it with their own
    valid CSRF token; nothing ends."""
    victim_name, victim_password = make_user()
    victim = _signed_in(app, victim_name, victim_password)
    attacker = _signed_in(app, *make_user())
    (victim_session,) = _sessions_of(victim_name)
    assert _post(attacker, f"/account/sessions/{victim_session.public_id}/end") == 404
    assert _post(attacker, "/account/sessions/no-such-id/end") == 404
    assert _is_signed_in(victim) and _is_signed_in(attacker)
    assert _sessions_of(victim_name)[0].ended_at is None


@pytest.mark.parametrize("bad", ["%00", "x%00y", "%C3%A9", "a" * 65, "%20"])
def test_ids_that_name_nothing_are_answered_without_a_read(app: Flask, make_user, bad: str) -> None:
    """A NUL byte is a 500 on PostgreSQL if it reaches a query; no id holds one."""
    http = _signed_in(app, *make_user())
    assert _post(http, f"/account/sessions/{bad}/end") == 404
    assert _post(http, f"/account/applications/{bad}/revoke") == 404
    assert _is_signed_in(http)


def test_account_actions_need_the_csrf_token_and_a_session(app: Flask, make_user) -> None:
    username, password = make_user()
    http = _signed_in(app, username, password)
    (row,) = _sessions_of(username)
    for path in (f"/account/sessions/{row.public_id}/end", "/account/sessions/end-others",
                 "/account/applications/x/revoke"):
        resp = http.post(path, data={"csrf_token": "forged"})
        assert resp.status_code == 400 and "did not come from this site" in resp.get_data(as_text=True)
        anonymous = app.test_client()
        anonymous.get("/login")
        token = csrf_of(anonymous.get("/login").get_data(as_text=True))
        assert anonymous.post(path, data={"csrf_token": token}).headers["Location"] == "/login"
    assert _is_signed_in(http)


def _tokens_for(app: Flask, make_user, client) -> tuple[FlaskClient, str, dict[str, str]]:
    flow = signed_in_flow(app, make_user, client.client_id)
    body = flow.redeem(flow.code(scope="reports:read"), auth=client.basic).get_json()
    username = db.session.scalars(select(User.username).order_by(User.id.desc())).first()
    assert username is not None and "refresh_token" in body
    return flow.http, username, body


def test_revoking_an_application_revokes_its_tokens(app: Flask, make_user, web_client) -> None:
    http, username, body = _tokens_for(app, make_user, web_client)
    page = http.get("/account").get_data(as_text=True)
    assert "Acme Reports" in page and "View your reports" in page
    assert introspect(app, web_client.basic, body["access_token"]).get_json()["active"] is True
    assert _post(http, f"/account/applications/{web_client.client_id}/revoke") == 303
    after = http.get("/account").get_data(as_text=True)
    allowed = after.split('id="applications-heading"', 1)[1].split('id="activity-heading"', 1)[0]
    assert "Acme Reports" not in allowed and "You have not allowed any application yet." in allowed
    assert "Revoked access for Acme Reports" in after  # the recent activity says what happened
    for value in (body["access_token"], body["refresh_token"]):
        assert introspect(app, web_client.basic, value).get_json() == {"active": False}
    refreshed = app.test_client().post("/oauth/token", headers=basic(*web_client.basic),
                                       data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refreshed.get_json()["error"] == "invalid_grant"
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    assert db.session.scalar(select(func.count()).select_from(Consent).where(Consent.user_id == user_id)) == 0


def test_revoking_someone_elses_application_is_refused(app: Flask, make_user, web_client) -> None:
    victim, _, body = _tokens_for(app, make_user, web_client)
    attacker = _signed_in(app, *make_user())
    assert _post(attacker, f"/account/applications/{web_client.client_id}/revoke") == 404
    assert introspect(app, web_client.basic, body["refresh_token"]).get_json()["active"] is True
    assert "Acme Reports" in victim.get("/account").get_data(as_text=True)


def test_purge_deletes_ended_and_expired_sessions(app: Flask, make_user) -> None:
    username, password = make_user()
    live = _signed_in(app, username, password)
    ended = _signed_in(app, username, password)
    _signed_in(app, username, password)
    _post(ended, "/logout")
    expired = _sessions_of(username)[2]
    expired.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["tokens", "purge", "--batch-size", "1", "--json"])
    assert result.exit_code == 0 and '"sessions_deleted"' in result.output
    assert [s.ended_at for s in _sessions_of(username)] == [None]
    assert _is_signed_in(live)
    assert db.session.scalar(select(Session).where(Session.ended_at.is_not(None))) is None


@pytest.mark.parametrize(("user_agent", "summary"), [
    (FIREFOX, "Firefox on Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
     "Edg/131.0.0.0", "Edge on Windows"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
     "Chrome on Android"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
     "Safari/605.1.15", "Safari on macOS"),
    ("curl/8.5.0", "curl"),
    ("", "Unknown browser"),
])
def test_device_summary_names_browser_and_system_only(user_agent: str, summary: str) -> None:
    assert device_summary(user_agent) == summary


@pytest.mark.parametrize(("address", "network"), [
    ("198.51.100.23", "198.51.100.0/24"),
    ("2001:db8:abcd:12:34::1", "2001:db8:abcd::/48"),
    ("::ffff:198.51.100.23", "198.51.100.0/24"),
    ("not an address", ""),
    (None, ""),
])
def test_only_the_network_of_the_address_is_kept(address: str | None, network: str) -> None:
    assert network_of(address) == network

