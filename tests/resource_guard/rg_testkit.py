"""Test helpers for resource_guard: a fake clock, signing keys, and a real HTTP issuer.

The issuer is a ``ThreadingHTTPServer`` on 127.0.0.1 serving RFC 8414 metadata, a JWKS and an
RFC 7662 introspection endpoint; tests control its answers and read its hit counts.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from resource_guard import Headers, Request
from resource_guard.backends import APITokenRecord, VerifiedUser
from resource_guard.tokens import generate_token

AUDIENCE = "https://api.example"


class FakeClock:
    """A settable clock: tests advance time instead of sleeping."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SigningKey:
    """A private key with its public JWK, able to sign access tokens."""

    kid: str
    private: Any
    alg: str
    jwk: dict[str, Any]

    @classmethod
    def generate(cls, kind: str = "EC", kid: str | None = None, *,
                 jwk_alg: str | None = None) -> SigningKey:
        kid = kid or uuid.uuid4().hex[:8]
        private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        if kind == "EC":
            private = ec.generate_private_key(ec.SECP256R1())
            jwk, alg = json.loads(ECAlgorithm.to_jwk(private.public_key())), "ES256"
        elif kind == "RSA":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk, alg = json.loads(RSAAlgorithm.to_jwk(private.public_key())), "RS256"
        elif kind == "OKP":
            private = ed25519.Ed25519PrivateKey.generate()
            jwk, alg = json.loads(OKPAlgorithm.to_jwk(private.public_key())), "EdDSA"
        else:
            raise ValueError(kind)
        jwk["kid"] = kid
        jwk["use"] = "sig"
        if jwk_alg is not None:
            jwk["alg"] = jwk_alg
            alg = jwk_alg
        return cls(kid, private, alg, jwk)


@dataclass
class FakeIssuer:
    """What the in-test authorization server answers; tests mutate it between requests."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    extra_jwks: list[dict[str, Any]] = field(default_factory=list)
    jwks_cache_control: str | None = "max-age=300"
    jwks_status: int = 200
    metadata_status: int = 200
    metadata_issuer: str | None = None   # None: the real URL
    metadata_path: str = "/.well-known/oauth-authorization-server"  # or OpenID Connect's
    introspection_status: int = 200
    introspection: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> answer
    introspection_delay: float = 0.0
    client_id: str = "rs-client"
    client_secret: str = "rs secret/with:odd chars"
    hits: Counter[str] = field(default_factory=Counter)
    seen_auth: list[str] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self.keys] + self.extra_jwks}

    def sign(self, claims: dict[str, Any] | None = None, *, key: SigningKey | None = None,
             headers: dict[str, Any] | None = None, alg: str | None = None,
             drop: tuple[str, ...] = (), now: float | None = None) -> str:
        """A valid RFC 9068 access token unless the arguments say otherwise."""
        key = key or self.keys[0]
        now = time.time() if now is None else now
        body = {"iss": self.url, "sub": "user-1", "aud": AUDIENCE, "client_id": "client-1",
                "iat": int(now), "exp": int(now) + 300, "jti": uuid.uuid4().hex,
                "scope": "reports:read profile"}
        body.update(claims or {})
        for name in drop:
            body.pop(name, None)
        hdrs = {"typ": "at+jwt", "kid": key.kid}
        hdrs.update(headers or {})
        return jwt.encode(body, key.private, algorithm=alg or key.alg, headers=hdrs)


def sign_es256(header: dict[str, Any], claims: dict[str, Any], private: ec.EllipticCurvePrivateKey) -> str:
    """A compact JWS signed with ES256 whatever ``header`` says, its JSON written as
    ``json.dumps`` writes it (NaN included): for tokens no JWT library would produce."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _basic(client_id: str, client_secret: str) -> str:
    from urllib.parse import quote

    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def _handler(state: FakeIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.hits[self.path] += 1
            if self.path == state.metadata_path:
                self._send(state.metadata_status, {
                    "issuer": state.metadata_issuer or state.url,
                    "jwks_uri": state.url + "/jwks",
                    "introspection_endpoint": state.url + "/introspect"})
            elif self.path == "/jwks":
                headers = ({"Cache-Control": state.jwks_cache_control}
                           if state.jwks_cache_control else {})
                body = state.jwks() if state.jwks_status == 200 else {"error": "down"}
                self._send(state.jwks_status, body, headers)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            state.hits[self.path] += 1
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            if self.path != "/introspect":
                self._send(404, {"error": "not_found"})
                return
            if state.introspection_delay:
                time.sleep(state.introspection_delay)  # simulates a hung server for timeouts
            auth = self.headers.get("Authorization", "")
            state.seen_auth.append(auth)
            if auth != _basic(state.client_id, state.client_secret):
                self._send(401, {"error": "invalid_client"})
                return
            if state.introspection_status != 200:
                self._send(state.introspection_status, {"error": "server_error"})
                return
            token = form.get("token", [""])[0]
            self._send(200, state.introspection.get(token, {"active": False}))

    return Handler




def make_request(authorization: str | None = None, *, method: str = "GET",
                 query_string: str = "", remote_addr: str = "192.0.2.1") -> Request:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return Request(method=method, headers=Headers(headers), path="/reports",
                   query_string=query_string, remote_addr=remote_addr)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected in the timeout tests


def start_issuer() -> tuple[FakeIssuer, ThreadingHTTPServer]:
    state = FakeIssuer()
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    state.keys.append(SigningKey.generate("EC"))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return state, server


@dataclass
class MemoryStore:
    """An in-memory APITokenStore, recording every call the backend makes."""

    records: dict[str, APITokenRecord] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    touches: list[tuple[str, datetime]] = field(default_factory=list)
    fail_touch: bool = False

    def add(self, **fields: Any) -> str:
        token = generate_token("rgat")
        fields.setdefault("id", str(len(self.records) + 1))
        fields.setdefault("subject", "alice")
        self.records[token] = APITokenRecord(**fields)
        return token

    def lookup(self, token: str) -> APITokenRecord | None:
        self.lookups.append(token)
        return self.records.get(token)

    def touch_last_used(self, token_id: str, when: datetime) -> None:
        if self.fail_touch:
            raise ConnectionError("database is read-only")
        self.touches.append((token_id, when))


class FlakyStore(MemoryStore):
    """An API-token store whose database went away."""

    def lookup(self, token: str) -> APITokenRecord | None:
        raise ConnectionError("database unreachable")


@dataclass
class Users:
    """A PasswordVerifier over a dict, counting verifications."""

    passwords: dict[str, str] = field(default_factory=lambda: {"alice": "wonderland",
                                                               "bob": "builder"})
    calls: int = 0

    def verify(self, username: str, password: str) -> VerifiedUser | None:
        self.calls += 1
        if self.passwords.get(username) == password:
            return VerifiedUser(subject=f"user:{username}", claims={"username": username})
        return None


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
