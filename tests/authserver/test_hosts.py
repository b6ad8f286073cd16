"""One answer to "is this host loopback": literals always, the name ``localhost`` only where
the caller says a name will do (issue 22)."""

from __future__ import annotations

import pytest

from authserver.net.hosts import is_loopback, is_loopback_http


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_literals_are_loopback_either_way(host: str) -> None:
    assert is_loopback(host) and is_loopback(host, by_name=False)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST"])
def test_the_name_localhost_counts_only_by_name(host: str) -> None:
    assert is_loopback(host) and not is_loopback(host, by_name=False)


@pytest.mark.parametrize("host", [None, "", "10.0.0.1", "::ffff:10.0.0.1", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "0.0.0.0", "example.com"])
def test_anything_else_is_not_loopback(host: str | None) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(("uri", "by_name", "expected"), [
    ("http://127.0.0.1:8765/cb", False, True),
    ("http://[::1]/cb", False, True),
    ("http://localhost/cb", True, True),
    ("http://localhost/cb", False, False),
    ("https://127.0.0.1/cb", True, False),  # the question is http on loopback; https needs none
    ("http://10.1.2.3/cb", True, False),
])
def test_loopback_http_asks_scheme_and_host(uri: str, by_name: bool, expected: bool) -> None:
    assert is_loopback_http(uri, by_name=by_name) is expected
