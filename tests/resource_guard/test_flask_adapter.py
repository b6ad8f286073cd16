"""FlaskGuard: decorator, principal, optional endpoints, JSON errors with RFC 6750 headers."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response, jsonify

from resource_guard import Principal
from resource_guard.backends import APITokenBackend, BasicAuthBackend, BearerJWTBackend
from resource_guard.flask import FlaskGuard
from tests.resource_guard.rg_testkit import (
    AUDIENCE,
    FakeClock,
    FakeIssuer,
    MemoryStore,
    Users,
    basic,
)


def create_app(guard: FlaskGuard) -> Flask:
    app = Flask(__name__)
    guard.init_app(app)

    def who() -> dict[str, Any]:
        p = guard.principal
        return {"subject": p.subject if p else None, "backend": p.backend if p else None}

    @app.get("/reports")
    @guard.require(scopes=["reports:read"])
    def list_reports() -> Any:
        return jsonify(who())

    @app.route("/reports/<int:report_id>", methods=["GET", "PUT", "DELETE"])
    @guard.require(resource="reports", item_arg="report_id")
    def report(report_id: int) -> Any:
        return jsonify(who() | {"id": report_id})

    @app.get("/public")
    @guard.require(optional=True)
    def public() -> Any:
        return jsonify(who())

    @app.get("/open")
    def open_endpoint() -> Any:
        return jsonify(principal=guard.principal is None)

    return app


@pytest.fixture
def parts(issuer: FakeIssuer, clock: FakeClock) -> tuple[Flask, FakeIssuer, MemoryStore]:
    store = MemoryStore()
    guard = FlaskGuard(backends=[
        BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock),
        APITokenBackend(store=store, clock=clock),
        BasicAuthBackend(verifier=Users(), clock=clock),
    ])
    return create_app(guard), issuer, store


def test_bearer_token_reaches_the_view(parts: tuple[Flask, FakeIssuer, MemoryStore],
                                       clock: FakeClock) -> None:
    app, issuer, _ = parts
    token = issuer.sign(now=clock.now)
    response = app.test_client().get("/reports", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json == {"subject": "user-1", "backend": "bearer_jwt"}


def test_no_credentials_is_401_json_with_first_challenge(
        parts: tuple[Flask, FakeIssuer, MemoryStore]) -> None:
    app, _, _ = parts
    response = app.test_client().get("/reports")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", scope="reports:read"'
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "authentication_required"
    assert response.get_json()["error_description"]


def test_invalid_token_is_401_invalid_token(parts: tuple[Flask, FakeIssuer, MemoryStore],
                                            clock: FakeClock) -> None:
    app, issuer, _ = parts
    token = issuer.sign({"exp": int(clock.now) - 3600}, now=clock.now - 4000)
    response = app.test_client().get("/reports", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer realm="api", error="invalid_token"')


def test_insufficient_scope_is_403(parts: tuple[Flask, FakeIssuer, MemoryStore],
                                   clock: FakeClock) -> None:
    app, issuer, _ = parts
    token = issuer.sign({"scope": "profile"}, now=clock.now)
    response = app.test_client().get("/reports", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json == {"error": "insufficient_scope", "scope": "reports:read",
                             "error_description": response.get_json()["error_description"]}
    assert 'scope="reports:read"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("method", "scope", "status"), [
    ("GET", "reports:read", 200), ("PUT", "reports:read", 403), ("PUT", "reports:write", 200),
    ("DELETE", "reports:write", 403), ("DELETE", "reports:destroy", 200)])
def test_resource_scopes_follow_the_method(parts: tuple[Flask, FakeIssuer, MemoryStore],
                                           clock: FakeClock, method: str, scope: str,
                                           status: int) -> None:
    app, issuer, _ = parts
    token = issuer.sign({"scope": scope}, now=clock.now)
    response = app.test_client().open("/reports/3", method=method,
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status


def test_api_token_policy_per_item(parts: tuple[Flask, FakeIssuer, MemoryStore]) -> None:
    app, _, store = parts
    token = store.add(policy={"resources": {"reports": {"*": {"allow": ["GET"], "block": ["*"]},
                                                        "7": {"allow": ["PUT"]}}}})
    client = app.test_client()
    headers = {"Authorization": f"token {token}"}
    assert client.get("/reports/3", headers=headers).status_code == 200
    assert client.put("/reports/3", headers=headers).status_code == 403
    assert client.put("/reports/7", headers=headers).status_code == 200
    assert client.delete("/reports/7", headers=headers).status_code == 403


def test_basic_user_is_not_scope_limited(parts: tuple[Flask, FakeIssuer, MemoryStore]) -> None:
    app, _, _ = parts
    response = app.test_client().delete(
        "/reports/1", headers={"Authorization": basic("alice", "wonderland")})
    assert response.status_code == 200 and response.get_json()["backend"] == "basic"


def test_optional_endpoint(parts: tuple[Flask, FakeIssuer, MemoryStore],
                           clock: FakeClock) -> None:
    app, issuer, _ = parts
    client = app.test_client()
    assert client.get("/public").json == {"subject": None, "backend": None}
    token = issuer.sign(now=clock.now)
    assert client.get("/public", headers={"Authorization": f"Bearer {token}"}).get_json()["subject"] == "user-1"
    bad = client.get("/public", headers={"Authorization": "Bearer a.b.c"})
    assert bad.status_code == 401


def test_query_string_token_is_400(parts: tuple[Flask, FakeIssuer, MemoryStore],
                                   clock: FakeClock) -> None:
    app, issuer, _ = parts
    token = issuer.sign(now=clock.now)
    response = app.test_client().get(f"/reports?access_token={token}")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_rate_limited_basic_is_429_with_retry_after(
        parts: tuple[Flask, FakeIssuer, MemoryStore]) -> None:
    app, _, _ = parts
    client = app.test_client()
    for _ in range(5):
        assert client.get("/reports", headers={"Authorization": basic("bob", "x")}
                          ).status_code == 401
    response = client.get("/reports", headers={"Authorization": basic("bob", "builder")})
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert response.get_json()["error"] == "too_many_requests"


def test_issuer_outage_is_503_json(issuer: FakeIssuer, clock: FakeClock) -> None:
    issuer.jwks_status = 500
    guard = FlaskGuard(backends=[BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE,
                                                  clock=clock)])
    app = create_app(guard)
    response = app.test_client().get(
        "/reports", headers={"Authorization": f"Bearer {issuer.sign(now=clock.now)}"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.get_json()["error"] == "temporarily_unavailable"


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer \x00", "Basic ===", "token " + "é" * 10, "Bearer " + "a." * 5000,
    "Bearer eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOjF9.AAAA", "Basic Og==",
])
def test_garbage_never_causes_a_500(parts: tuple[Flask, FakeIssuer, MemoryStore],
                                    header: str) -> None:
    app, _, _ = parts
    response = app.test_client().get("/reports", headers={"Authorization": header})
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] in ("invalid_request", "invalid_token",
                                      "authentication_required")


def test_principal_outside_a_guarded_view_or_request(
        parts: tuple[Flask, FakeIssuer, MemoryStore]) -> None:
    app, _, _ = parts
    guard = app.extensions["resource_guard"]
    assert guard.principal is None
    assert app.test_client().get("/open").json == {"principal": True}


def test_bound_at_construction() -> None:
    app = Flask(__name__)
    guard = FlaskGuard(app, backends=[BasicAuthBackend(verifier=Users())])

    @app.get("/me")
    @guard.require()
    def me() -> Response:
        p: Principal | None = guard.principal
        return jsonify(subject=p.subject if p else None)

    ok = app.test_client().get("/me", headers={"Authorization": basic("alice", "wonderland")})
    assert ok.json == {"subject": "user:alice"}
    challenge = app.test_client().get("/me").headers["WWW-Authenticate"]
    assert challenge == 'Basic realm="api", charset="UTF-8"'
    # last: mypy narrows ``guard`` to the dict value's Any after an ``is`` against it
    assert app.extensions["resource_guard"] is guard
