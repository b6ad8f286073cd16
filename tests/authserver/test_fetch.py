"""The SSRF-safe fetcher: what it fetches, and every way of aiming it inward that it refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from authserver.net.fetch import FetchError, FetchLimits, fetch, trust_store
from authserver.net.hosts import is_public_address

from .tls_server import DocumentServer, Route, loopback

DOC = json.dumps({"hello": "world"}).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    found = DocumentServer(tmp_path_factory.mktemp("tls"))
    yield found
    found.close()


@pytest.fixture
def trusted(server: DocumentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))


DEV = FetchLimits(allowed_hosts=frozenset({"localhost", "client.example"}))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
    "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:7f00:1::", "192.0.2.10", "2001:db8::1",
])
def test_non_public_addresses_are_recognised(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:84e5", "::ffff:93.184.216.34"])
def test_public_addresses_are_recognised(address: str) -> None:
    assert is_public_address(address)


def test_an_allow_listed_host_is_fetched_with_its_certificate_checked(server: DocumentServer, trusted: None) -> None:
    server.routes["/doc"] = Route(DOC, headers={"Content-Type": "application/json", "Cache-Control": "max-age=600"})
    got = fetch(server.url("/doc"), DEV)
    assert json.loads(got.body) == {"hello": "world"}
    assert got.headers["cache-control"] == "max-age=600"


def test_the_connection_goes_to_the_checked_address_with_sni(server: DocumentServer, trusted: None) -> None:
    """client.example resolves (here) to loopback only; the certificate is checked for
    client.example, so the TLS session was made for the name, on the address we chose."""
    server.routes["/named"] = Route(DOC)
    got = fetch(server.url("/named", host="client.example"), DEV, resolver=loopback)
    assert got.body == DOC


def test_an_untrusted_certificate_is_refused(server: DocumentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    server.routes["/doc"] = Route(DOC)
    with pytest.raises(FetchError, match="not trusted"):
        fetch(server.url("/doc"), DEV)


def test_requests_ca_bundle_is_honoured_too(server: DocumentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    server.routes["/doc"] = Route(DOC)
    assert fetch(server.url("/doc"), DEV).body == DOC


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "10.0.0.5", "169.254.169.254", "[::ffff:127.0.0.1]", "localhost"])
def test_private_and_loopback_hosts_are_refused(server: DocumentServer, trusted: None, host: str) -> None:
    server.routes["/doc"] = Route(DOC)
    before = len(server.requests)
    with pytest.raises(FetchError, match="non-public address"):
        fetch(f"https://{host}:{server.port}/doc", FetchLimits())
    assert len(server.requests) == before


def test_a_public_looking_name_resolving_to_loopback_is_refused(server: DocumentServer, trusted: None) -> None:
    server.routes["/doc"] = Route(DOC)
    with pytest.raises(FetchError, match=r"client.example resolves to a non-public address \(127.0.0.1\)"):
        fetch(server.url("/doc", host="client.example"), FetchLimits(), resolver=loopback)


def test_a_trusted_url_may_be_internal_but_keeps_every_other_rule(server: DocumentServer, trusted: None) -> None:
    """``allow_private`` (an administrator chose the URL) skips only the address check."""
    trusting = FetchLimits(max_bytes=100, allow_private=True)
    server.routes["/doc"] = Route(DOC)
    server.routes["/moved"] = Route(status=302, headers={"Location": "/doc"})
    server.routes["/big"] = Route(b"x" * 101)
    assert fetch(f"https://127.0.0.1:{server.port}/doc", trusting).body == DOC
    with pytest.raises(FetchError, match="redirects are not followed"):
        fetch(server.url("/moved"), trusting)
    with pytest.raises(FetchError, match="larger than 100 bytes"):
        fetch(server.url("/big"), trusting)
    with pytest.raises(FetchError, match="only https"):
        fetch(f"http://127.0.0.1:{server.port}/doc", trusting)


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.1"]

    with pytest.raises(FetchError, match="non-public"):
        fetch("https://client.example/doc", FetchLimits(), resolver=mixed)


def test_a_non_ascii_host_name_is_refused_not_guessed() -> None:
    with pytest.raises(FetchError, match="ASCII"):
        fetch("https://b\u00fccher.example/doc", FetchLimits(), resolver=loopback)


def test_http_is_refused() -> None:
    with pytest.raises(FetchError, match="only https"):
        fetch("http://client.example/doc", FetchLimits())


@pytest.mark.parametrize("target", ["https://10.0.0.1/doc", "https://169.254.169.254/latest/meta-data/", "/doc"])
def test_a_redirect_is_not_followed(server: DocumentServer, trusted: None, target: str) -> None:
    """Not to a private address, and not even back to the same (allow-listed) host."""
    server.routes["/doc"] = Route(DOC)
    server.routes["/moved"] = Route(status=302, headers={"Location": target})
    with pytest.raises(FetchError, match=r"redirect \(302\); redirects are not followed"):
        fetch(server.url("/moved"), DEV)
    assert server.requests[-1] == "/moved"


def test_an_oversized_document_is_refused(server: DocumentServer, trusted: None) -> None:
    server.routes["/big"] = Route(b"x" * 6000)
    with pytest.raises(FetchError, match="larger than 5120 bytes"):
        fetch(server.url("/big"), DEV)


def test_an_oversized_document_without_length_stops_being_read(server: DocumentServer, trusted: None) -> None:
    """No Content-Length: the body is read in chunks and abandoned once past the limit."""
    server.routes["/stream"] = Route(b"x" * 2000, drip=0.0001)
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetch(server.url("/stream"), FetchLimits(max_bytes=1000, timeout=30, allowed_hosts={"localhost"}))


def test_a_slow_drip_document_hits_the_total_time_limit(server: DocumentServer, trusted: None) -> None:
    """Each byte arrives well within any per-read timeout; the total limit stops it."""
    server.routes["/slow"] = Route(b"{" + b" " * 200 + b"}", drip=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 1 seconds"):
        fetch(server.url("/slow"), FetchLimits(timeout=1, allowed_hosts={"localhost"}))
    assert time.monotonic() - started < 3


def test_a_non_200_answer_is_refused(server: DocumentServer, trusted: None) -> None:
    with pytest.raises(FetchError, match="answered 404"):
        fetch(server.url("/missing"), DEV)


def test_a_ca_file_can_be_given_instead_of_the_variables(server: DocumentServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    server.routes["/doc"] = Route(DOC)
    assert fetch(server.url("/doc"), DEV, ca_file=str(server.ca_file)).body == DOC
    assert trust_store(str(server.ca_file)).cert_store_stats()["x509_ca"] == 1
