"""Authorization-server scenarios: client_credentials issuance and its ceiling, introspection,
revocation, and the authorization-code round trip, each against a running server."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from .config import BenchConfig
from .fixtures import PASSWORD, SCOPE, Credentials, Fixtures, write_pool
from .load import Measure, Runner, Sample, fixed, measure, pooled, settle, wrk
from .server import METADATA, Process, start_app

FORM = "application/x-www-form-urlencoded"
# Every issuance run sends this body: the ceiling, authserver and the node-oidc-provider peer.
ISSUANCE_BODY = urlencode({"grant_type": "client_credentials", "scope": SCOPE}, safe=":")


def basic(client: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()


def _form_headers(client: Credentials) -> dict[str, str]:
    return {"Authorization": basic(client), "Content-Type": FORM}


def _token_response(server: Process, client: Credentials) -> requests.Response:
    response = requests.post(server.url + "/oauth/token", data=ISSUANCE_BODY,
                             headers=_form_headers(client), timeout=10)
    response.raise_for_status()
    return response


def token_body_bytes(server: Process, client: Credentials) -> int:
    """The size of one real token response, which the ceiling app then answers with."""
    return len(_token_response(server, client).content)


def fetch_token(server: Process, client: Credentials) -> str:
    """One access token from the running server, as a client gets it."""
    return str(_token_response(server, client).json()["access_token"])


CEILING_APP = "bench.ceiling:create_app"
CEILING_CLIENT = Credentials("ceiling-client", "ceiling-secret")


def issue(token_url: str, client: Credentials, cfg: BenchConfig, settle_url: str) -> Runner:
    """client_credentials requests with Basic authentication and ``ISSUANCE_BODY``."""
    return fixed(token_url, "POST", ISSUANCE_BODY, _form_headers(client), cfg, settle_url)


@dataclass(frozen=True)
class Issuance:
    """client_credentials issuance beside its ceiling, measured interleaved."""

    token_format: str
    body_bytes: int
    issued: Measure
    ceiling: Measure


def issuance(server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path) -> list[Issuance]:
    """Issuance of each format and, beside each, the bare Flask endpoint under the same
    server settings answering the same request with a JSON body of the same size."""
    clients = {"JWT": fx.jwt_client, "opaque": fx.opaque_client}
    sizes = {label: token_body_bytes(server, c) for label, c in clients.items()}
    apps: dict[str, Process] = {}
    try:
        for label, size in sizes.items():
            env = {"BENCH_BODY_BYTES": str(size)}
            apps[label] = start_app(CEILING_APP, env, cfg, workdir)
        runners: dict[str, Runner] = {}
        for label, client in clients.items():
            app = apps[label]
            runners["ceiling " + label] = issue(app.url + "/token", CEILING_CLIENT, cfg, app.url + "/healthz")
            runners[label] = issue(server.url + "/oauth/token", client, cfg, server.url + METADATA)
        m = measure(runners, cfg)
    finally:
        for app in apps.values():
            app.stop()
    return [Issuance(label, sizes[label], m[label], m["ceiling " + label]) for label in clients]


def introspection(server: Process, fx: Fixtures, token: str, cfg: BenchConfig) -> Runner:
    """A resource server asking about one real token, over and over."""
    body = urlencode({"token": token})
    return fixed(server.url + "/oauth/introspect", "POST", body, _form_headers(fx.rs_client), cfg,
                 server.url + METADATA)


def revocation(server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path, rate_bound: int = 2500) -> Runner:
    """Each request revokes a distinct live opaque token from a pre-minted pool."""
    per_run = int(rate_bound * max(cfg.duration, cfg.warmup))
    pools = [write_pool(fx.mint(fx.opaque_client, per_run, store=True), workdir / f"revoke-{i}.txt")
             for i in range(cfg.runs + 1)]
    return pooled(server.url + "/oauth/revoke", pools, "form", "token_type_hint=access_token&token=",
                  _form_headers(fx.opaque_client), cfg, server.url + METADATA)


class _Forms(HTMLParser):
    """Every form on a page: its action and its inputs and buttons (name → value)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}, {}))
        elif self.forms and tag in ("input", "button") and "name" in a:
            kind = a.get("type", "submit" if tag == "button" else "text")
            bucket = self.forms[-1][2] if kind == "hidden" else self.forms[-1][1]
            bucket[a["name"]] = a.get("value", "")


def _form_with(html: str, field: str) -> tuple[str, dict[str, str]]:
    """The form that has ``field``: its action and its hidden inputs (the CSRF token)."""
    parser = _Forms()
    parser.feed(html)
    for action, fields, hidden in parser.forms:
        if field in fields:
            return action, hidden
    raise RuntimeError(f"no form with {field!r} on the page")


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def signed_in_session(fx: Fixtures, authorize_path: str) -> str:
    """Log in and allow once through the real pages; returns the session cookie header."""
    base = fx.issuer
    session = requests.Session()
    response = session.get(base + authorize_path, allow_redirects=False, timeout=10)
    login_url = urljoin(base, response.headers["Location"])
    page = session.get(login_url, timeout=10)
    action, hidden = _form_with(page.text, "username")
    response = session.post(urljoin(login_url, action), allow_redirects=False, timeout=10,
                            data={**hidden, "username": fx.username, "password": PASSWORD})
    consent_url = urljoin(base, response.headers["Location"])
    page = session.get(consent_url, timeout=10)
    action, hidden = _form_with(page.text, "decision")
    response = session.post(urljoin(consent_url, action), data={**hidden, "decision": "allow"},
                            allow_redirects=False, timeout=10)
    if "code" not in parse_qs(urlsplit(response.headers.get("Location", "")).query):
        raise RuntimeError(f"consent did not redirect with a code: {response.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def authorization_code(server: Process, fx: Fixtures, cfg: BenchConfig) -> Runner:
    """Round trips (authorize → code → token); the samples' ``ROUND_TRIPS`` count them.

    wrk drives it: one connection per wrk thread, so a thread's Lua state machine alternates
    the two requests; the session cookie and PKCE pair are made once by a real login.
    """
    verifier, challenge = _pkce()
    query = urlencode({"response_type": "code", "client_id": fx.code_client.client_id,
                       "redirect_uri": fx.redirect_uri, "scope": SCOPE, "state": "bench",
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    path = "/oauth/authorize?" + query
    cookie = signed_in_session(fx, path)
    prefix = urlencode({"grant_type": "authorization_code", "redirect_uri": fx.redirect_uri,
                        "code_verifier": verifier}) + "&code="
    args = [path, cookie, prefix, basic(fx.code_client).split(" ", 1)[1]]
    n = cfg.connections

    def run(duration: float) -> Sample:
        sample = wrk(server.url, "authcode.lua", args, duration, cfg, connections=n, threads=n)
        settle(server.url + METADATA)
        return sample

    return run
