"""The client's address behind the load balancers named in ``AUTHSERVER_TRUSTED_PROXIES``.

Behind a load balancer every request comes from the balancer's address, so sign-in
throttling and the registration limit would count every client as one, and the audit trail
would name the balancer. When the TCP peer is a trusted proxy, the client is the rightmost
address of ``X-Forwarded-For`` that is not itself a trusted proxy: each proxy appends the
peer it saw, so whatever a client wrote stays to the left of it and is never taken. Anything
malformed keeps the peer. ``/metrics`` still judges the TCP peer (``PEER``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from ..config import IPNetwork
from ..net.hosts import peer_address

PEER = "authserver.peer"  # in the WSGI environ: the TCP peer, whatever the proxies said

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def is_in(address: str | None, networks: frozenset[IPNetwork]) -> bool:
    parsed = peer_address(address)
    return parsed is not None and any(parsed in network for network in networks)


def forwarded_client(forwarded_for: str, trusted: frozenset[IPNetwork]) -> str | None:
    """The rightmost untrusted address of an ``X-Forwarded-For`` value, or None."""
    for item in reversed(forwarded_for.split(",")):
        candidate = item.strip()
        if peer_address(candidate) is None:
            return None
        if not is_in(candidate, trusted):
            return candidate
    return None


def init_app(app: Flask, trusted: frozenset[IPNetwork]) -> None:
    inner: WSGIApp = app.wsgi_app

    def client_address(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR")
        environ[PEER] = peer
        if trusted and is_in(peer, trusted):
            client = forwarded_client(environ.get("HTTP_X_FORWARDED_FOR", ""), trusted)
            if client is not None:
                environ["REMOTE_ADDR"] = client
        return inner(environ, start_response)

    app.wsgi_app = client_address  # type: ignore[method-assign]
