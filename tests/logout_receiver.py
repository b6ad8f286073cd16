"""A relying party's back-channel logout endpoint in miniature: a real HTTP server on
loopback that records every POST, answers with the status the test sets, and lets a test
wait for a delivery instead of sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
import requests


@dataclass
class Delivery:
    content_type: str
    form: dict[str, list[str]]

    @property
    def logout_token(self) -> str:
        assert list(self.form) == ["logout_token"] and len(self.form["logout_token"]) == 1, self.form
        return self.form["logout_token"][0]


@dataclass
class Receiver:
    uri: str
    status: int = 200
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout), self.deliveries
            return list(self.deliveries)


@contextmanager
def logout_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            self.send_response(receiver.status)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()
            with receiver.arrived:
                receiver.deliveries.append(Delivery(self.headers.get("Content-Type", ""), parse_qs(body)))
                receiver.arrived.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/backchannel-logout")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def verified_logout_token(token: str, jwks: dict[str, Any], issuer: str, client_id: str) -> dict[str, Any]:
    """PyJWT's verdict, with every rule Back-Channel Logout 1.0 §2.6 gives the receiver."""
    header = jwt.get_unverified_header(token)
    published = {k["kid"]: k for k in jwks["keys"]}
    assert header["typ"] == "logout+jwt" and header["alg"] == published[header["kid"]]["alg"]
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=[header["alg"]], audience=client_id, issuer=issuer,
                                        options={"require": ["iss", "aud", "iat", "exp", "jti", "events"]})
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims and claims["sub"].startswith("user:") and claims["sid"]
    assert 0 < claims["exp"] - claims["iat"] <= 300
    return claims


def fetch_jwks(issuer: str) -> dict[str, Any]:
    found: dict[str, Any] = requests.get(issuer + "/oauth/jwks", timeout=10).json()
    return found
