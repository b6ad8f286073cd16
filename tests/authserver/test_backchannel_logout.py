"""Back-Channel Logout 1.0: ending a session queues a logout token for each client it signed
in to (with a ``backchannel_logout_uri``); the delivery worker POSTs it to a real loopback
receiver, retries with backoff on its own clock, and gives up with a log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.appstate import state
from authserver.clients.metadata import ClientMetadata, InvalidClientMetadata
from authserver.extensions import db
from authserver.models import Client, Session, User
from authserver.models.backchannel import DELIVERED, FAILED, BackchannelLogout
from authserver.models.types import utcnow
from authserver.oauth import backchannel_logout
from authserver.oauth.backchannel_logout import LogoutDelivery, may_deliver_to
from tests.databases import free_port
from tests.logout_receiver import Receiver, logout_receiver, verified_logout_token

from .authorize_helpers import REDIRECT, authorize_url, consent, csrf_of, pkce_pair, sign_in


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with logout_receiver() as found:
        yield found


def _client(make_client, uri: str | None, name: str = "Listens for logouts"):
    return make_client(name=name, scope="reports:read", grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                       backchannel_logout_uri=uri)


class Browser:
    """A person signed in once, with codes from some clients."""

    def __init__(self, app: Flask, make_user) -> None:
        self.app = app
        self.username, self.password = make_user()
        self.http = app.test_client()
        assert sign_in(self.http, self.username, self.password).status_code == 303

    def use(self, client_id: str) -> None:
        assert consent(self.http, authorize_url(client_id, challenge=pkce_pair()[1])).status_code == 303

    def sessions(self) -> list[Session]:
        user_id = db.session.scalar(select(User.id).where(User.username == self.username))
        return list(db.session.scalars(select(Session).where(Session.user_id == user_id).order_by(Session.id)))

    def log_out(self) -> None:
        page = self.http.get("/account")
        resp = self.http.post("/logout", data={"csrf_token": csrf_of(page.get_data(as_text=True))})
        assert resp.status_code == 303


def _used_then_logged_out(app: Flask, make_client, make_user, uri: str):
    """A client with ``uri``, to which a person signed in and then logged out."""
    client = _client(make_client, uri)
    browser = Browser(app, make_user)
    browser.use(client.client_id)
    browser.log_out()
    return client


def _owed(client_id: str) -> list[BackchannelLogout]:
    db.session.expire_all()
    return list(db.session.scalars(select(BackchannelLogout).join(Client).where(Client.client_id == client_id)
                                   .order_by(BackchannelLogout.id)))


def _delivery(app: Flask) -> LogoutDelivery:
    return LogoutDelivery(app, state(app).keys, state(app).settings.issuer)


def _jwks(app: Flask) -> dict[str, Any]:
    return json.loads(app.test_client().get("/oauth/jwks").get_data(as_text=True))


def test_logout_queues_and_the_worker_delivers_a_verifiable_logout_token(
    app: Flask, make_client, make_user, receiver: Receiver
) -> None:
    listening, silent, unused = (_client(make_client, receiver.uri), _client(make_client, None),
                                 _client(make_client, receiver.uri, "Never used"))
    browser = Browser(app, make_user)
    browser.use(listening.client_id)
    browser.use(silent.client_id)
    sid = browser.sessions()[-1].public_id

    browser.log_out()
    # The person's logout was answered; nothing was sent on their request.
    assert receiver.deliveries == []
    [owed] = _owed(listening.client_id)
    assert owed.attempts == 0 and owed.finished_at is None
    assert _owed(silent.client_id) == [] and _owed(unused.client_id) == []

    assert _delivery(app).drain() == 1
    [delivery] = receiver.wait_for(1)
    assert delivery.content_type == "application/x-www-form-urlencoded"
    claims = verified_logout_token(delivery.logout_token, _jwks(app), state(app).settings.issuer,
                                   listening.client_id)
    user_id = db.session.scalar(select(User.id).where(User.username == browser.username))
    assert claims["sid"] == sid and claims["sub"] == f"user:{user_id}" and claims["jti"] == owed.jti
    [done] = _owed(listening.client_id)
    assert done.outcome == DELIVERED and done.attempts == 1
    assert _delivery(app).drain() == 0 and len(receiver.deliveries) == 1  # delivered once


def test_an_unreachable_receiver_is_retried_with_backoff_then_logged(
    app: Flask, make_client, make_user, caplog: pytest.LogCaptureFixture
) -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}/logout"
    down = _used_then_logged_out(app, make_client, make_user, nobody_listens)
    delivery = _delivery(app)
    caplog.set_level(logging.INFO, logger="authserver.backchannel_logout")
    now = utcnow() + timedelta(seconds=1)
    gaps = []
    for attempt in range(1, backchannel_logout.MAX_ATTEMPTS + 1):
        assert delivery.drain(now) == 1
        [owed] = _owed(down.client_id)
        assert owed.attempts == attempt
        if attempt == backchannel_logout.MAX_ATTEMPTS:
            break
        gap = owed.next_attempt_at - now
        gaps.append(gap.total_seconds())
        assert delivery.drain(now + gap - timedelta(seconds=1)) == 0  # not due before its time
        now += gap
    assert gaps == [5, 10, 20, 40, 80]
    [owed] = _owed(down.client_id)
    assert owed.outcome == FAILED and owed.finished_at is not None
    assert delivery.drain(now + timedelta(days=1)) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "authserver.backchannel_logout"]
    assert f"back-channel logout to client {down.client_id} failed for good after 6 attempts" in messages[-1]
    assert "could not be reached" in messages[-1]
    assert not any("eyJ" in m or owed.jti in m for m in messages)  # nothing of the token is logged


def test_an_error_answer_is_retried_with_the_same_jti(
    app: Flask, make_client, make_user, receiver: Receiver
) -> None:
    client = _used_then_logged_out(app, make_client, make_user, receiver.uri)
    receiver.status = 500
    now = utcnow() + timedelta(seconds=1)
    delivery = _delivery(app)
    assert delivery.drain(now) == 1
    receiver.status = 200
    assert delivery.drain(now + timedelta(seconds=5)) == 1
    first, second = receiver.wait_for(2)
    jwks, issuer = _jwks(app), state(app).settings.issuer
    assert (verified_logout_token(first.logout_token, jwks, issuer, client.client_id)["jti"]
            == verified_logout_token(second.logout_token, jwks, issuer, client.client_id)["jti"])
    assert _owed(client.client_id)[0].outcome == DELIVERED


def test_ending_a_session_from_the_account_page_delivers(
    app: Flask, make_client, make_user, receiver: Receiver
) -> None:
    client = _client(make_client, receiver.uri)
    other_device = Browser(app, make_user)
    other_device.use(client.client_id)
    here = app.test_client()
    assert sign_in(here, other_device.username, other_device.password).status_code == 303
    ended_sid = other_device.sessions()[0].public_id
    page = here.get("/account").get_data(as_text=True)
    resp = here.post(f"/account/sessions/{ended_sid}/end", data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 303
    assert _delivery(app).drain() == 1
    [delivery] = receiver.wait_for(1)
    claims = verified_logout_token(delivery.logout_token, _jwks(app), state(app).settings.issuer, client.client_id)
    assert claims["sid"] == ended_sid


@pytest.mark.parametrize("command", [["users", "set-password", "{name}", "--password-stdin"],
                                     ["users", "disable", "{name}"]])
def test_a_password_change_or_disabling_delivers(
    app: Flask, make_client, make_user, receiver: Receiver, command: list[str]
) -> None:
    client = _client(make_client, receiver.uri)
    browser = Browser(app, make_user)
    browser.use(client.client_id)
    sid = browser.sessions()[-1].public_id
    result = app.test_cli_runner().invoke(args=[c.format(name=browser.username) for c in command],
                                          input="a brand new long password\n")
    assert result.exit_code == 0, result.output
    assert _delivery(app).drain() == 1
    [delivery] = receiver.wait_for(1)
    assert verified_logout_token(delivery.logout_token, _jwks(app), state(app).settings.issuer,
                                 client.client_id)["sid"] == sid


def test_two_workers_never_send_one_notice_twice(app: Flask, make_client, make_user, receiver: Receiver) -> None:
    """Each attempt is claimed by a conditional UPDATE: a second drainer that read the same
    row finds it taken."""
    client = _used_then_logged_out(app, make_client, make_user, receiver.uri)
    first, second = _delivery(app), _delivery(app)
    [owed] = _owed(client.client_id)
    now = utcnow() + timedelta(seconds=1)
    assert first._claim(owed, now)
    stale = BackchannelLogout(id=owed.id, attempts=0)  # what the other worker read before the claim
    assert not second._claim(stale, now)


def test_where_logout_tokens_may_go() -> None:
    dev, prod = "http://127.0.0.1:5000", "https://login.example"
    assert may_deliver_to("https://rp.example/logout", prod) and may_deliver_to("https://rp.example/logout", dev)
    assert may_deliver_to("http://127.0.0.1:9000/logout", dev) and may_deliver_to("http://[::1]:9000/l", dev)
    assert not may_deliver_to("http://127.0.0.1:9000/logout", prod)  # no loopback from a real deployment
    assert not may_deliver_to("http://10.0.0.5/logout", dev) and not may_deliver_to("ftp://rp.example/", dev)


@pytest.mark.parametrize("uri", ["http://rp.example/logout", "https://rp.example/logout#frag", "/logout",
                                 "http://localhost:9000/logout", "javascript:alert(1)"])
def test_registration_refuses_unsafe_backchannel_logout_uris(uri: str) -> None:
    with pytest.raises(InvalidClientMetadata) as refused:
        ClientMetadata(client_name="rp", redirect_uris=(REDIRECT,), backchannel_logout_uri=uri)
    assert refused.value.field == "backchannel_logout_uri"


def test_an_http_uri_is_not_called_from_a_production_issuer(
    app: Flask, make_client, make_user, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    client = _used_then_logged_out(app, make_client, make_user, receiver.uri)
    delivery = LogoutDelivery(app, state(app).keys, "https://login.example")
    now = utcnow() + timedelta(seconds=1)
    for attempt in range(backchannel_logout.MAX_ATTEMPTS):
        delivery.drain(now + timedelta(hours=attempt))
    assert receiver.deliveries == [] and _owed(client.client_id)[0].outcome == FAILED
    assert "is not https" in caplog.text


def test_the_cli_registers_and_changes_the_backchannel_logout_uri(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["clients", "create", "--name", "rp", "--grant-type", "authorization_code",
                                  "--redirect-uri", REDIRECT, "--backchannel-logout-uri",
                                  "https://rp.example/logout", "--backchannel-logout-session-required", "--json"])
    assert created.exit_code == 0, created.output
    record = json.loads(created.output)
    assert record["backchannel_logout_uri"] == "https://rp.example/logout"
    assert record["backchannel_logout_session_required"] is True
    cleared = runner.invoke(args=["clients", "update", record["client_id"], "--backchannel-logout-uri", "",
                                  "--no-backchannel-logout-session-required", "--json"])
    assert cleared.exit_code == 0, cleared.output
    assert json.loads(cleared.output)["backchannel_logout_uri"] is None
    refused = runner.invoke(args=["clients", "update", record["client_id"], "--backchannel-logout-uri",
                                  "http://rp.example/logout"])
    assert refused.exit_code != 0 and "--backchannel-logout-uri" in refused.output


def test_purge_deletes_notices_finished_a_day_ago(app: Flask, make_client, make_user, receiver: Receiver) -> None:
    client = _used_then_logged_out(app, make_client, make_user, receiver.uri)
    assert _delivery(app).drain() == 1
    [done] = _owed(client.client_id)
    purge = ["tokens", "purge", "--json"]
    assert json.loads(app.test_cli_runner().invoke(args=purge).output)["logout_notices_deleted"] == 0
    done.finished_at = utcnow() - timedelta(days=2)
    db.session.commit()
    assert json.loads(app.test_cli_runner().invoke(args=purge).output)["logout_notices_deleted"] >= 1
    assert _owed(client.client_id) == []
