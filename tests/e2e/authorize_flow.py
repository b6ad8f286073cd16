"""What an end-to-end authorization test needs besides the server: a user's browser
session done with plain HTTP (forms, CSRF tokens, redirects), PKCE, and a loopback
listener standing in for a native app's redirect URI (RFC 8252 §7.3)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urljoin, urlsplit

import requests


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _form(page: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and hidden inputs, read as a browser would."""
    form = re.search(r"<form[^>]*action=\"([^\"]*)\"[^>]*>(.*?)</form>", page, re.S)
    assert form, "no form on the page"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return html.unescape(form.group(1)), {k: html.unescape(v) for k, v in hidden.items()}


def approve(authorization_url: str, username: str, password: str, decision: str = "allow",
            session: requests.Session | None = None) -> str:
    """Sign in and answer the consent page over HTTP; returns where the server redirects
    the user back to (the client's redirect URI with ``code`` or ``error``)."""
    http = session or requests.Session()
    resp = http.get(authorization_url, allow_redirects=False, timeout=10)
    if resp.status_code == 303:  # not signed in: the login page, then back here
        resp = http.get(urljoin(resp.url, resp.headers["Location"]), timeout=10)
        action, hidden = _form(resp.text)
        resp = http.post(urljoin(resp.url, action), data={**hidden, "username": username, "password": password},
                         allow_redirects=False, timeout=10)
        assert resp.status_code == 303, resp.text
        resp = http.get(urljoin(resp.url, resp.headers["Location"]), allow_redirects=False, timeout=10)
    if resp.status_code == 302:  # consent remembered, or an error: straight back to the client
        return resp.headers["Location"]
    assert resp.status_code == 200 and 'name="decision"' in resp.text, resp.text
    action, hidden = _form(resp.text)
    resp = http.post(
        urljoin(resp.url, action), data={**hidden, "decision": decision}, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 303, resp.text
    return resp.headers["Location"]


@dataclass
class Callback:
    """A loopback HTTP listener: records the query of every request to ``/callback`` and
    serves any page put in ``pages`` (an attacker's page in the CSRF test)."""

    url: str
    received: list[dict[str, str]] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def redirect_uri(self) -> str:
        return self.url + "/callback"


@contextmanager
def callback_listener() -> Iterator[Callback]:
    holder: list[Callback] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            cb = holder[0]
            path = urlsplit(self.path).path
            if path == "/callback":
                cb.received.append(query_of(self.path))
                body = "<!doctype html><title>Done</title><p>You can close this window.</p>"
            elif path in cb.pages:
                body = cb.pages[path]
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # keep codes out of the test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Callback(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
