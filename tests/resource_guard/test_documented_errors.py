"""Every refusal in the resource_guard table of docs/reference/resource-guard.md ("Errors") is produced through the
real Flask adapter against the real local issuer, with the documented status, ``error``,
``WWW-Authenticate`` challenge and ``Retry-After``. A row without a producer here, or a
producer without its row, fails: the table and the library cannot drift apart.

How a row's headers cell is read: each backticked ``WWW-Authenticate: …`` is a challenge the
response may carry (it must match one of them whole; ``"..."`` stands for a quoted value,
``...`` for anything); "without `x`" means the challenge has no ``x`` parameter; a backticked
``Retry-After`` means a positive number of seconds must be sent."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, jsonify
from werkzeug.test import TestResponse

from resource_guard.backends import (
    APITokenBackend,
    AuthBackend,
    BasicAuthBackend,
    BearerJWTBackend,
    IntrospectionBackend,
)
from resource_guard.flask import FlaskGuard
from tests.docs_tables import docs_table
from tests.resource_guard.rg_testkit import (
    AUDIENCE,
    FakeClock,
    FakeIssuer,
    FlakyStore,
    MemoryStore,
    Users,
    basic,
)

HEADING = "Errors"
CHALLENGE = "WWW-Authenticate: "


@dataclass(frozen=True)
class Row:
    situation: str
    status: int
    error: str
    challenges: tuple[re.Pattern[str], ...]
    without: tuple[str, ...]
    retry_after: bool
    scope: str | None


def _pattern(documented: str) -> re.Pattern[str]:
    """A documented challenge as a regex: ``"..."`` any quoted value, ``...`` anything."""
    quoted = [re.escape(part) for part in documented.split('"..."')]
    return re.compile('"[^"]*"'.join(".*".join(p.split(re.escape("..."))) for p in quoted))


def documented_rows() -> list[Row]:
    rows: list[Row] = []
    for situation, status, error, headers in docs_table(HEADING):
        quoted = re.findall(r"`([^`]+)`", headers)
        challenges = [q.removeprefix(CHALLENGE) for q in quoted if q.startswith(CHALLENGE)]
        scopes = {s for c in challenges for s in re.findall(r'scope="([^".]+)"', c)}
        assert len(scopes) <= 1, headers
        rows.append(Row(situation, int(status), error.strip("`"),
                        tuple(_pattern(c) for c in challenges),
                        tuple(re.findall(r"without `([^`]+)`", headers)),
                        "Retry-After" in quoted, scopes.pop() if scopes else None))
    return rows


def create_app(*backends: AuthBackend) -> Flask:
    """A small API: reading reports needs ``reports:read``, filing one ``reports:write``, and
    each report is a ``reports`` resource whose access a token policy may limit."""
    app = Flask(__name__)
    guard = FlaskGuard(app, backends=backends)

    @app.get("/reports")
    @guard.require(scopes=["reports:read"])
    def list_reports() -> Any:
        return jsonify(reports=[])

    @app.post("/reports")
    @guard.require(scopes=["reports:write"])
    def file_report() -> Any:
        return jsonify(id=1), 201

    @app.route("/reports/<int:report_id>", methods=["GET", "PUT"])
    @guard.require(resource="reports", item_arg="report_id")
    def report(report_id: int) -> Any:
        return jsonify(id=report_id)

    return app


@dataclass
class Site:
    """What the producers need: the issuer, the API token store, the clock, and the API
    guarded by Bearer JWTs, API tokens and Basic logins, in that order."""

    issuer: FakeIssuer
    store: MemoryStore
    clock: FakeClock

    def app(self) -> Flask:
        return create_app(BearerJWTBackend(issuer=self.issuer.url, audience=AUDIENCE, clock=self.clock),
                          APITokenBackend(store=self.store, clock=self.clock),
                          BasicAuthBackend(verifier=Users(), clock=self.clock))

    def introspecting(self, issuer: str | None = None) -> Flask:
        return create_app(IntrospectionBackend(issuer=issuer or self.issuer.url, client_id=self.issuer.client_id,
                                               client_secret=self.issuer.client_secret, audience=AUDIENCE,
                                               clock=self.clock, timeout=2.0))

    def bearer(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.issuer.sign(claims, now=self.clock.now)}


Producer = Callable[[Site], Iterator[TestResponse]]


def _closed_port_url() -> str:
    """The URL of a loopback port nobody listens on: an issuer that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _no_credentials(s: Site) -> Iterator[TestResponse]:
    yield s.app().test_client().get("/reports")


def _malformed(s: Site) -> Iterator[TestResponse]:
    http = s.app().test_client()
    for header in ("Bearer", "Bearer two words", "token", "token two words", "Basic ===", "Basic Og=="):
        yield http.get("/reports", headers={"Authorization": header})
    token = s.issuer.sign(now=s.clock.now)
    yield http.get("/reports?access_token=" + token)
    yield http.get("/reports?access_token=" + token, headers={"Authorization": "Bearer " + token})


def _bad_token(s: Site) -> Iterator[TestResponse]:
    http = s.app().test_client()
    now = s.clock.now
    for headers in ({"Authorization": "Bearer a.b.c"},
                    s.bearer(exp=int(now) - 3600, iat=int(now) - 4000),  # expired
                    s.bearer(aud="https://elsewhere.example"),  # foreign: for another API
                    s.bearer(iss="https://other-issuer.example")):  # foreign: another issuer
        yield http.get("/reports", headers=headers)
    revoked = s.store.add(valid=False, invalid_reason="revoked")
    yield http.get("/reports", headers={"Authorization": f"token {revoked}"})
    s.issuer.introspection["asat_revoked"] = {"active": False}
    yield s.introspecting().test_client().get("/reports", headers={"Authorization": "Bearer asat_revoked"})


def _wrong_password(s: Site) -> Iterator[TestResponse]:
    http = s.app().test_client()
    yield http.get("/reports", headers={"Authorization": basic("alice", "not her password")})
    yield http.get("/reports", headers={"Authorization": basic("nobody", "wonderland")})


def _missing_scope(s: Site) -> Iterator[TestResponse]:
    yield s.app().test_client().post("/reports", headers=s.bearer(scope="reports:read"))
    s.issuer.introspection["asat_reader"] = {"active": True, "scope": "profile reports:read", "aud": AUDIENCE}
    yield s.introspecting().test_client().post("/reports", headers={"Authorization": "Bearer asat_reader"})


def _policy_forbids(s: Site) -> Iterator[TestResponse]:
    http = s.app().test_client()
    reports = {"*": {"allow": ["GET"], "block": ["*"]}, "7": {"block": ["GET"]}}
    token = s.store.add(policy={"resources": {"reports": reports}})
    yield http.put("/reports/3", headers={"Authorization": f"token {token}"})
    yield http.get("/reports/7", headers={"Authorization": f"token {token}"})
    policy = {"resources": {"reports": {"*": {"block": ["PUT"]}}}}
    yield http.put("/reports/3", headers=s.bearer(scope="reports:write", policy=policy))


def _too_many_logins(s: Site) -> Iterator[TestResponse]:
    http = s.app().test_client()
    for _ in range(5):
        assert http.get("/reports", headers={"Authorization": basic("bob", "guess")}).status_code == 401
    yield http.get("/reports", headers={"Authorization": basic("bob", "builder")})
    yield http.get("/reports", headers={"Authorization": basic("bob", "guess")})


def _unreachable(s: Site) -> Iterator[TestResponse]:
    down = _closed_port_url()
    yield create_app(BearerJWTBackend(issuer=down, audience=AUDIENCE, clock=s.clock)).test_client().get(
        "/reports", headers=s.bearer(iss=down))
    yield s.introspecting(down).test_client().get("/reports", headers={"Authorization": "Bearer asat_x"})
    flaky = create_app(APITokenBackend(store=FlakyStore(), clock=s.clock)).test_client()
    yield flaky.get("/reports", headers={"Authorization": f"token {s.store.add()}"})
    s.issuer.jwks_status = 500
    yield s.app().test_client().get("/reports", headers=s.bearer())
    s.issuer.introspection_status = 502
    yield s.introspecting().test_client().get("/reports", headers={"Authorization": "Bearer asat_x"})


PRODUCERS: dict[str, Producer] = {
    "no credentials on a protected endpoint": _no_credentials,
    "malformed `Authorization` header, or `access_token` in the query string": _malformed,
    "bad, expired, revoked or foreign token": _bad_token,
    "wrong username/password": _wrong_password,
    "missing scope": _missing_scope,
    "token policy forbids the method or resource": _policy_forbids,
    "too many failed Basic logins": _too_many_logins,
    "issuer, introspection endpoint or store unreachable": _unreachable,
}


def test_every_documented_row_has_a_producer_and_every_producer_a_row() -> None:
    assert [row.situation for row in documented_rows()] == list(PRODUCERS)


def _check(row: Row, resp: TestResponse) -> None:
    challenge = resp.headers.get("WWW-Authenticate")
    where = f"{row.situation}: {resp.status_code} {challenge!r} {resp.get_data(as_text=True)[:200]}"
    assert resp.status_code == row.status, where
    body = resp.get_json()
    assert body["error"] == row.error and body["error_description"], where
    assert body.get("scope") == row.scope, where
    if row.challenges:
        assert challenge is not None and any(p.fullmatch(challenge) for p in row.challenges), where
    for name in row.without:
        assert challenge is None or f"{name}=" not in challenge, where
    if row.retry_after:
        assert resp.headers.get("Retry-After", "").isdigit() and int(resp.headers["Retry-After"]) > 0, where


@pytest.mark.parametrize("row", documented_rows(), ids=lambda r: r.situation[:60])
def test_each_documented_refusal_is_produced_as_documented(issuer: FakeIssuer, clock: FakeClock, row: Row) -> None:
    producer = PRODUCERS.get(row.situation)
    assert producer is not None, f"no producer for the documented row {row.situation!r}"
    produced = list(producer(Site(issuer, MemoryStore(), clock)))
    assert produced
    for resp in produced:
        _check(row, resp)
