"""RemoteUserBackend: the user header counts only from a trusted proxy's address."""

from __future__ import annotations

import logging

import pytest

from resource_guard import Guard, Headers, Request
from resource_guard.backends import RemoteUserBackend

PROXY = "10.0.0.7"


def _request(headers: dict[str, str], remote_addr: str | None = PROXY) -> Request:
    return Request(method="GET", headers=Headers(headers), path="/reports", remote_addr=remote_addr)


@pytest.fixture
def backend() -> RemoteUserBackend:
    return RemoteUserBackend(trusted_proxies=["10.0.0.0/24", "::1"])


def test_user_named_by_a_trusted_proxy_is_the_principal(backend: RemoteUserBackend) -> None:
    result = backend.authenticate(_request({"Remote-User": "alice"}))
    assert result is not None and result.principal is not None
    assert result.principal.subject == "alice" and result.principal.scopes is None
    assert result.principal.backend == "remote_user"
    ipv6_peer = backend.authenticate(_request({"Remote-User": "bob"}, remote_addr="::1"))
    assert ipv6_peer is not None and ipv6_peer.principal is not None
    mapped = backend.authenticate(_request({"Remote-User": "carol"}, remote_addr="::ffff:10.0.0.9"))
    assert mapped is not None and mapped.principal is not None


@pytest.mark.parametrize("address", ["10.0.1.7", "192.0.2.1", "::2", None, "", "not-an-ip", "10.0.0.7, 1.2.3.4"])
def test_header_from_anywhere_else_is_ignored(backend: RemoteUserBackend, address: str | None) -> None:
    assert backend.authenticate(_request({"Remote-User": "admin"}, remote_addr=address)) is None


def test_spoofed_forwarded_for_does_not_make_a_client_a_proxy(backend: RemoteUserBackend) -> None:
    headers = {"Remote-User": "admin", "X-Forwarded-For": PROXY, "X-Real-IP": PROXY, "Forwarded": f"for={PROXY}"}
    assert backend.authenticate(_request(headers, remote_addr="192.0.2.1")) is None


def test_untrusted_header_is_logged_once(backend: RemoteUserBackend, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="resource_guard.backends.remote_user"):
        for _ in range(3):
            backend.authenticate(_request({"Remote-User": "admin\r\nforged log line"}, remote_addr="192.0.2.1"))
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "192.0.2.1" in message and "admin" not in message


def test_empty_header_from_the_proxy_is_anonymous(backend: RemoteUserBackend) -> None:
    guard = Guard([backend])
    result = guard.authenticate(_request({"Remote-User": ""}))
    assert result.principal is None and result.error is None


@pytest.mark.parametrize("value", ["alice\x00", "ali\nce", "\x1b[31malice", " alice", "alice\t", "a" * 256])
def test_a_malformed_name_from_the_proxy_is_refused(backend: RemoteUserBackend, value: str) -> None:
    result = backend.authenticate(_request({"Remote-User": value}))
    assert result is not None and result.principal is None
    assert result.status == 400 and result.error is not None and result.error.code == "invalid_request"


def test_header_name_in_cgi_or_http_spelling() -> None:
    custom = RemoteUserBackend(trusted_proxies=[PROXY], header="HTTP_X_AUTH_USER")
    result = custom.authenticate(_request({"X-Auth-User": "dana"}))
    assert result is not None and result.principal is not None and result.principal.subject == "dana"
    assert custom.authenticate(_request({"Remote-User": "dana"})) is None


def test_trusted_proxies_must_be_configured() -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        RemoteUserBackend(trusted_proxies=[])
    with pytest.raises(TypeError):
        RemoteUserBackend(trusted_proxies="10.0.0.1")
    with pytest.raises(ValueError):
        RemoteUserBackend(trusted_proxies=["10.0.0.300"])
