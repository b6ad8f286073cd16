"""Fetching a document from a URL a stranger chose, without letting them aim us inward (SSRF).

Client ID Metadata Documents and ``jwks_uri`` key sets are fetched from URLs that whoever
calls the authorization endpoint picks, and back-channel logout tokens are POSTed to the
``backchannel_logout_uri`` a self-registered client chose. ``fetch`` and ``post_form`` are the
one way to do that, and ``check_public_url`` the same address rule at registration:

- ``https`` only, with the certificate verified for the URL's host name (SNI) against the
  bundle named by ``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE``, else the system's;
- the host name is resolved here, every address it resolves to must be public (not private,
  loopback, link-local, multicast, unspecified, reserved, shared or documentation space,
  also when wrapped in an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address), and the
  connection goes to an address that was checked, so a second DNS answer cannot rebind it;
- redirects are refused, not followed: a document lives at its URL (the metadata draft asks
  for exactly that URL), and not following means no second target to check;
- the answer must be 200 and at most ``max_bytes`` long (streamed; reading stops past it),
  and the whole exchange (connect, TLS, headers, body) must finish within ``timeout``
  seconds, so a slow-drip server cannot hold a worker.

Hosts in ``allowed_hosts`` skip the address check: for development and tests on loopback.
``allow_private`` skips it for every host, for URLs a trusted person chose (an administrator's
client's ``jwks_uri``); every other rule still holds.
"""

from __future__ import annotations

import http.client
import math
import os
import socket
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from .hosts import is_public_address

# (host, port) -> the addresses to try, in order.
Resolver = Callable[[str, int], Sequence[str]]

CHUNK = 4096
T = TypeVar("T")
class FetchError(Exception):
    """The document could not be fetched; ``reason`` says why in words an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AddressRefused(FetchError):
    """The host resolves to an address that is not public: the URL aims inward."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 5 * 1024
    timeout: float = 5.0
    allowed_hosts: Collection[str] = field(default_factory=frozenset)
    allow_private: bool = False  # the URL is trusted: any address, the other limits still apply


@dataclass(frozen=True)
class Fetched:
    url: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def trust_store(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificates verified against ``ca_file``, else ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``,
    else the system's."""
    bundle = ca_file or os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE") or None
    context = ssl.create_default_context(cafile=bundle)
    context.sslsocket_class = _DeadlineSocket
    return context


class _DeadlineSocket(ssl.SSLSocket):
    """Every read waits at most until ``deadline``, so many slow reads cannot add up."""

    deadline: float = math.inf

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self.settimeout(remaining)
        return super().recv_into(buffer, nbytes, flags)


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTPS to ``address`` (already checked), with SNI and certificate checks for ``host``."""

    def __init__(self, host: str, port: int, address: str, context: ssl.SSLContext, deadline: float) -> None:
        super().__init__(host, port, timeout=max(deadline - time.monotonic(), 0.001), context=context)
        self._address = address
        self._tls = context
        self._deadline = deadline

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), timeout=self._remaining())
        raw.settimeout(self._remaining())  # bounds the whole TLS handshake
        try:
            sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        assert isinstance(sock, _DeadlineSocket)
        sock.deadline = self._deadline
        self.sock = sock

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        return remaining


def _target(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise FetchError("only https URLs are fetched")
    try:
        port = parts.port or 443
    except ValueError:
        raise FetchError("the URL's port is not a number") from None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise FetchError("the URL needs a host and no user name or password")
    if not parts.hostname.isascii():
        raise FetchError("the URL's host name must be written in ASCII (IDNA, xn--...)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path


def _addresses(host: str, port: int, limits: FetchLimits, resolver: Resolver) -> list[str]:
    addresses = list(resolver(host, port))
    if not addresses:
        raise FetchError(f"the host name {host} does not resolve")
    _refuse_inward(host, addresses, limits)
    return addresses


def _refuse_inward(host: str, addresses: Sequence[str], limits: FetchLimits) -> None:
    if not limits.allow_private and host not in limits.allowed_hosts:
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]}), which is never contacted")


def check_public_url(url: str, limits: FetchLimits, *, resolver: Resolver = system_resolver) -> None:
    """``AddressRefused`` when the URL's host is, or today resolves to, a non-public address:
    the check at registration, so a stranger learns at once. A name that does not resolve
    passes here; every use resolves and checks again (the answer may change)."""
    parts = urlsplit(url)
    host = parts.hostname
    if host:
        try:
            port = parts.port or 443
        except ValueError:
            return  # the URL's own check says what is wrong with it
        _refuse_inward(host, list(resolver(host, port)), limits)


def fetch(url: str, limits: FetchLimits, *, resolver: Resolver = system_resolver,
          ca_file: str | None = None) -> Fetched:
    """GET ``url`` under the rules above; ``FetchError`` says what went wrong."""
    return _over_checked_address(url, limits, resolver, ca_file,
                                 lambda connection, path: _exchange(connection, url, path, limits))


def post_form(url: str, form: Mapping[str, str], limits: FetchLimits, *, resolver: Resolver = system_resolver,
              ca_file: str | None = None) -> int:
    """POST ``form`` to ``url`` under the same rules (a redirect is answered, not followed);
    the HTTP status. For deliveries to URLs a stranger registered (back-channel logout)."""
    body = urlencode(form).encode()

    def send(connection: _PinnedConnection, path: str) -> int:
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept-Encoding": "identity"})
        response = connection.getresponse()
        response.read(limits.max_bytes)  # the answer is not used, and at most this much is read
        return response.status

    return _over_checked_address(url, limits, resolver, ca_file, send)


def _over_checked_address(url: str, limits: FetchLimits, resolver: Resolver, ca_file: str | None,
                          exchange: Callable[[_PinnedConnection, str], T]) -> T:
    """``exchange`` over a connection to each checked address in turn, until one answers."""
    host, port, path = _target(url)
    deadline = time.monotonic() + limits.timeout
    addresses = _addresses(host, port, limits, resolver)
    context = trust_store(ca_file)
    last: Exception | None = None
    for address in addresses:
        connection = _PinnedConnection(host, port, address, context, deadline)
        try:
            return exchange(connection, path)
        except ssl.SSLCertVerificationError as exc:
            raise FetchError(f"the TLS certificate of {host} is not trusted: {exc.verify_message}") from None
        except TimeoutError:
            raise FetchError(f"the exchange took longer than {limits.timeout:g} seconds") from None
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        finally:
            connection.close()
    raise FetchError(f"could not reach {host}: {last}")


def _exchange(connection: _PinnedConnection, url: str, path: str, limits: FetchLimits) -> Fetched:
    connection.request("GET", path, headers={"Accept": "application/json", "Accept-Encoding": "identity"})
    response = connection.getresponse()
    if 300 <= response.status < 400:
        raise FetchError(f"the server answered with a redirect ({response.status}); redirects are not followed")
    if response.status != 200:
        raise FetchError(f"the server answered {response.status}, not 200")
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > limits.max_bytes:
        raise FetchError(f"the document is larger than {limits.max_bytes} bytes")
    body = bytearray()
    while chunk := response.read(CHUNK):
        body += chunk
        if len(body) > limits.max_bytes:
            raise FetchError(f"the document is larger than {limits.max_bytes} bytes")
    headers = {name.lower(): value for name, value in response.getheaders()}
    return Fetched(url, headers, bytes(body))
