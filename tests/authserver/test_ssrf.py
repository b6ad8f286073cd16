"""SSRF through back-channel logout: a self-registered client's ``backchannel_logout_uri``
must reach a public address, at registration and again at every delivery, or the server would
POST logout tokens into its own network (issue 23). Nothing here leaves the machine: the
inward targets are loopback listeners, reached by address or through a name that resolves
to loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import Client
from authserver.models.backchannel import DELIVERED, FAILED
from authserver.models.clients import BY_DOCUMENT, BY_SELF
from authserver.models.types import utcnow
from authserver.oauth import backchannel_logout
from authserver.oauth.backchannel_logout import LogoutDelivery

from .test_backchannel_logout import _owed, _used_then_logged_out
from .test_registration import WEB_APP, refused, register
from .tls_server import DocumentServer, loopback

INWARD = [
    "https://10.0.0.5/logout", "https://192.168.1.1/logout", "https://127.0.0.1/logout",
    "https://[::1]/logout", "https://169.254.169.254/latest", "https://169.254.1.1/logout",
    "https://[::ffff:127.0.0.1]/logout", "https://localhost/logout",
]


@pytest.mark.parametrize("uri", INWARD)
def test_a_self_registered_logout_uri_aiming_inward_is_refused(apps, uri: str) -> None:
    """A user registering a client whose backchannel_logout_uri is private, loopback,
    link-local, cloud metadata or a name resolving to loopback gets invalid_client_metadata."""
    app = apps("open")
    body = refused(register(app, WEB_APP, backchannel_logout_uri=uri), "invalid_client_metadata")
    assert "backchannel_logout_uri" in body["error_description"]
    assert "public address" in body["error_description"]


@pytest.fixture(scope="module")
def receiver_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    with DocumentServer(tmp_path_factory.mktemp("logout-tls")) as server:
        yield server


def _owed_by_stranger(app: Flask, make_client, make_user, uri: str, registered_by: str) -> str:
    """A client that registered itself with ``uri`` (then, say, changed its DNS), owed a logout."""
    client = _used_then_logged_out(app, make_client, make_user, uri)
    with app.app_context():
        row = db.session.query(Client).filter_by(client_id=client.client_id).one()
        row.registered_by = registered_by
        db.session.commit()
    return client.client_id


def _deliver_all(delivery: LogoutDelivery) -> None:
    now = utcnow() + timedelta(seconds=1)
    for attempt in range(backchannel_logout.MAX_ATTEMPTS):
        delivery.drain(now + timedelta(hours=attempt))


@pytest.mark.parametrize("registered_by", [BY_SELF, BY_DOCUMENT])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "rp.example"])
def test_a_stored_uri_aiming_inward_gets_no_logout_token(
        app: Flask, make_client, make_user, receiver_tls: DocumentServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, registered_by: str, host: str) -> None:
    """The listener is real and would answer; the delivery never reaches it. ``rp.example``
    resolves (through the test's resolver) to loopback: DNS changed after registration."""
    monkeypatch.setenv("SSL_CERT_FILE", str(receiver_tls.ca_file))
    path = f"/{registered_by}/{host}/logout"
    client_id = _owed_by_stranger(app, make_client, make_user, receiver_tls.url(path, host=host), registered_by)
    with app.app_context(), caplog.at_level(logging.INFO, "authserver.backchannel_logout"):
        _deliver_all(LogoutDelivery(app, state(app).keys, state(app).settings.issuer, resolver=loopback))
        assert _owed(client_id)[0].outcome == FAILED
    assert [p for p, _ in receiver_tls.posts if p == path] == []
    assert "aims inward and is never called" in caplog.text and "non-public address (127.0.0.1)" in caplog.text


def test_an_allow_listed_host_and_an_administrators_client_are_delivered_to(
        app: Flask, make_client, make_user, receiver_tls: DocumentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``AUTHSERVER_CIMD_ALLOWED_HOSTS`` is the development escape hatch; an administrator's
    client may name an internal host. Both arrive, over TLS checked against the test CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(receiver_tls.ca_file))
    stranger = _owed_by_stranger(app, make_client, make_user, receiver_tls.url("/allowed/logout"), BY_SELF)
    admins = _used_then_logged_out(app, make_client, make_user, receiver_tls.url("/admin/logout")).client_id
    with app.app_context():
        _deliver_all(LogoutDelivery(app, state(app).keys, state(app).settings.issuer, frozenset({"localhost"})))
        assert [_owed(stranger)[0].outcome, _owed(admins)[0].outcome] == [DELIVERED, DELIVERED]
    arrived = {p for p, body in receiver_tls.posts if body.startswith(b"logout_token=")}
    assert {"/allowed/logout", "/admin/logout"} <= arrived
