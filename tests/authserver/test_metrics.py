"""Prometheus metrics: each counter moves when what it counts happens, labels stay bounded,
and ``/metrics`` answers only the allowed addresses."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from authserver.appstate import state
from authserver.config import ConfigError, load_settings
from authserver.metrics import MULTIPROCESS_DIR, multiprocess_directory

from .authorize_helpers import refresh, sign_in, signed_in_flow
from .helpers import introspect, revoke, token

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(app: Flask, remote: str = "127.0.0.1") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """What Prometheus would read: sample name and labels to value."""
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == 200 and response.content_type.startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for sample in family.samples}


def value(app: Flask, name: str, **labels: str) -> float:
    return scrape(app).get((name, tuple(sorted(labels.items()))), 0.0)


def delta(app: Flask, name: str, **labels: str) -> Callable[[], float]:
    before = value(app, name, **labels)
    return lambda: value(app, name, **labels) - before


def test_token_requests_are_counted_by_grant_and_outcome(app: Flask, make_client) -> None:
    client = make_client()
    issued = delta(app, "authserver_token_requests_total", grant_type="client_credentials", outcome="issued")
    refused = delta(app, "authserver_token_requests_total", grant_type="client_credentials", outcome="invalid_client")
    timed = delta(app, "authserver_token_request_seconds_count", grant_type="client_credentials")
    assert token(app, client.basic, grant_type="client_credentials").status_code == 200
    assert token(app, client.basic, grant_type="client_credentials").status_code == 200
    assert token(app, (client.client_id, "wrong"), grant_type="client_credentials").status_code == 401
    assert (issued(), refused(), timed()) == (2, 1, 3)


def test_an_unknown_grant_or_error_is_other_never_the_sent_text(app: Flask, make_client) -> None:
    client = make_client()
    made_up = "urn:x:" + uuid.uuid4().hex
    other = delta(app, "authserver_token_requests_total", grant_type="other", outcome="unsupported_grant_type")
    assert token(app, client.basic, grant_type=made_up).status_code == 400
    assert other() == 1
    assert made_up not in app.test_client().get("/metrics", environ_base=LOOPBACK).get_data(as_text=True)


def test_introspection_and_revocation_are_counted(app: Flask, make_client) -> None:
    client = make_client()
    rs = make_client(scope="", introspect_any=True)
    access = token(app, client.basic, grant_type="client_credentials").get_json()["access_token"]
    active, inactive = (delta(app, "authserver_introspection_requests_total", active=a) for a in ("true", "false"))
    revoked = delta(app, "authserver_revocations_total")
    assert introspect(app, rs.basic, access).get_json()["active"] is True
    assert revoke(app, client.basic, access).status_code == 200
    assert introspect(app, rs.basic, access).get_json()["active"] is False
    assert (active(), inactive(), revoked()) == (1, 1, 1)


def test_sign_ins_are_counted_by_outcome(app: Flask, make_user) -> None:
    name, password = make_user()
    success, failure = (delta(app, "authserver_sign_ins_total", outcome=o) for o in ("success", "failure"))
    assert sign_in(app.test_client(), name, "not the password").status_code == 400
    assert sign_in(app.test_client(), name, password).status_code == 303
    assert (success(), failure()) == (1, 1)


def test_a_replayed_refresh_token_is_counted(app: Flask, make_client, make_user) -> None:
    public = make_client(grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=["https://app.example/cb"], public=True)
    flow = signed_in_flow(app, make_user, public.client_id, "https://app.example/cb")
    first = flow.redeem(flow.code()).get_json()["refresh_token"]
    reuse = delta(app, "authserver_refresh_reuse_detected_total")
    assert refresh(app, first, public.client_id).status_code == 200
    assert reuse() == 0
    assert refresh(app, first, public.client_id).get_json()["error"] == "invalid_grant"
    assert reuse() == 1


def test_http_requests_are_labelled_by_route_template_not_path(app: Flask) -> None:
    http = app.test_client()
    unmatched = delta(app, "authserver_http_requests_total", endpoint="unmatched", status="404")
    for _ in range(3):
        http.get("/oauth/register/" + uuid.uuid4().hex)  # one series for every client id
        http.get("/" + uuid.uuid4().hex)
    page = scrape(app)
    registered = [labels for (name, labels) in page
                  if name == "authserver_http_requests_total" and ("endpoint", "/oauth/register/<client_id>") in labels]
    assert len(registered) == 1 and unmatched() == 3
    assert not any(name == "authserver_http_requests_total" and dict(labels)["endpoint"].count("/") > 4
                   and "<" not in dict(labels)["endpoint"] for (name, labels) in page)


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"])
def test_loopback_may_read_by_default(app: Flask, remote: str) -> None:
    assert "authserver_revocations_total" in {name for name, _ in scrape(app, remote)}


@pytest.mark.parametrize("remote", ["10.0.0.1", "192.168.1.9", "2001:db8::1", "::ffff:10.0.0.1", "not-an-address"])
def test_metrics_refuse_addresses_outside_the_allow_list(app: Flask, remote: str) -> None:
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": remote},
                                     headers={"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 403 and b"authserver_" not in response.data


def test_an_allowed_network_may_read_and_metrics_off_removes_the_endpoint(apps) -> None:
    allowed = apps(metrics_allow="10.0.0.0/8")
    assert scrape(allowed, "10.20.30.40") and allowed.test_client().get(
        "/metrics", environ_base=LOOPBACK).status_code == 403
    off = apps(metrics="off")
    assert off.test_client().get("/metrics", environ_base=LOOPBACK).status_code == 404


@pytest.mark.parametrize("allow", ["10.0.0.0/33", "example.com", "10.0.0.0/8,nonsense"])
def test_a_bad_allow_list_is_one_line_naming_the_setting(allow: str) -> None:
    with pytest.raises(ConfigError, match="metrics_allow"):
        load_settings({"metrics_allow": allow})


def test_each_app_counts_in_its_own_registry(app: Flask, apps) -> None:
    assert state(apps(metrics_allow="127.0.0.1")).metrics.registry is not state(app).metrics.registry


def test_a_worker_leaving_through_the_fork_keeps_the_servers_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn's workers exit by SystemExit through the stack they were forked in: on a
    reload (SIGHUP) the old ones must not remove the directory the new ones count in."""
    monkeypatch.delenv(MULTIPROCESS_DIR, raising=False)
    try:
        with multiprocess_directory() as directory:
            pid = os.fork()
            if pid == 0:
                raise SystemExit(0)  # the worker leaving, as gunicorn's does
            os.waitpid(pid, 0)
            assert directory.is_dir() and os.environ[MULTIPROCESS_DIR] == str(directory)
    except SystemExit:  # only the child gets here
        os._exit(0)
    assert not directory.exists() and MULTIPROCESS_DIR not in os.environ  # the server's own exit cleans up
