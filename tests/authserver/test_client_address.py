"""``AUTHSERVER_TRUSTED_PROXIES``: behind a trusted load balancer the client is the rightmost
untrusted ``X-Forwarded-For`` address; a header from anyone else, a forged entry to the left,
or a malformed value changes nothing; ``/metrics`` still goes by the TCP peer."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from flask import Flask, request

from authserver.config import ConfigError, load_settings
from authserver.web.client_address import forwarded_client

BALANCERS = frozenset({ip_network("10.0.0.0/24")})


@pytest.mark.parametrize(("forwarded_for", "client"), [
    ("203.0.113.7", "203.0.113.7"),
    ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the client wrote the first: HAProxy appended the second
    ("203.0.113.7, 10.0.0.9", "203.0.113.7"),  # through two of ours
    ("2001:db8::5", "2001:db8::5"),
    ("10.0.0.8, 10.0.0.9", None),  # only ours: keep the peer
    ("203.0.113.7, not-an-address", None),
    ("", None),
])
def test_the_client_is_the_rightmost_address_not_ours(forwarded_for: str, client: str | None) -> None:
    assert forwarded_client(forwarded_for, BALANCERS) == client


def _seen(app: Flask, peer: str, forwarded_for: str) -> str | None:
    @app.get("/_test_remote_addr")
    def remote_addr() -> str:
        return request.remote_addr or ""

    answer = app.test_client().get("/_test_remote_addr", headers={"X-Forwarded-For": forwarded_for},
                                   environ_base={"REMOTE_ADDR": peer})
    return answer.get_data(as_text=True)


@pytest.fixture
def own_app(server_settings, migrated_app: Flask):
    from authserver import create_app

    def make(**settings: object) -> Flask:
        return create_app({**server_settings, **settings})

    return make


def test_only_a_trusted_peer_is_believed(own_app) -> None:
    behind = own_app(trusted_proxies="10.0.0.0/24")
    assert _seen(behind, "10.0.0.5", "198.51.100.1, 203.0.113.7") == "203.0.113.7"
    assert _seen(own_app(trusted_proxies="10.0.0.0/24"), "192.0.2.9", "203.0.113.7") == "192.0.2.9"
    assert _seen(own_app(), "10.0.0.5", "203.0.113.7") == "10.0.0.5"  # none trusted: the default


def test_metrics_go_by_the_tcp_peer_even_behind_a_trusted_proxy(own_app) -> None:
    app = own_app(trusted_proxies="10.0.0.0/24", metrics_allow="127.0.0.1")
    client = app.test_client()
    forged = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert forged.status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_a_malformed_list_stops_at_start_up() -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings({"trusted_proxies": "10.0.0.0/33"})
