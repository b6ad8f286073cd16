"""RFC 9728: the metadata document, its well-known URLs, and challenges that point at it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask, jsonify

from resource_guard import Guard, ProtectedResource
from resource_guard.backends import APITokenBackend, BasicAuthBackend, BearerJWTBackend
from resource_guard.flask import FlaskGuard
from tests.resource_guard.rg_testkit import AUDIENCE, FakeClock, FakeIssuer, MemoryStore, Users, basic, make_request

RESOURCE = ProtectedResource(resource="https://api.example/v1", authorization_servers=["https://as.example"],
                             scopes_supported=["reports:read", "reports:write"], resource_name="Reports API",
                             resource_documentation="https://api.example/docs")


def test_document_has_the_rfc_9728_fields_and_omits_unset_ones() -> None:
    assert RESOURCE.document() == {
        "resource": "https://api.example/v1", "authorization_servers": ["https://as.example"],
        "scopes_supported": ["reports:read", "reports:write"], "bearer_methods_supported": ["header"],
        "resource_name": "Reports API", "resource_documentation": "https://api.example/docs"}
    assert json.loads(RESOURCE.to_json()) == RESOURCE.document()


def test_extra_fields_cannot_override_the_named_ones() -> None:
    pr = ProtectedResource(resource="https://api.example", extra={"resource": "https://evil.example",
                                                                    "dpop_bound_access_tokens_required": False})
    assert pr.document()["resource"] == "https://api.example"
    assert pr.document()["dpop_bound_access_tokens_required"] is False


@pytest.mark.parametrize(("resource", "url", "paths"), [
    ("https://api.example", "https://api.example/.well-known/oauth-protected-resource",
     ("/.well-known/oauth-protected-resource",)),
    ("https://api.example/", "https://api.example/.well-known/oauth-protected-resource",
     ("/.well-known/oauth-protected-resource",)),
    ("https://api.example/v1/reports", "https://api.example/.well-known/oauth-protected-resource/v1/reports",
     ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/v1/reports")),
])
def test_well_known_url_inserts_the_segment_before_the_path(resource: str, url: str, paths: tuple[str, ...]) -> None:
    pr = ProtectedResource(resource=resource)
    assert pr.metadata_url == url
    assert pr.well_known_paths == paths


@pytest.mark.parametrize("kwargs", [
    {"resource": "api.example"}, {"resource": "ftp://api.example"}, {"resource": "https://api.example#frag"},
    {"resource": "https://api.example", "authorization_servers": ["not a url"]},
    {"resource": "https://api.example", "scopes_supported": "reports:read reports:write"},
    {"resource": "https://api.example", "bearer_methods_supported": ["cookie"]},
    {"resource": "https://api.example", "resource_documentation": "/docs"},
])
def test_bad_metadata_is_refused_when_configured(kwargs: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        ProtectedResource(**kwargs)  # type: ignore[arg-type]


def _metadata_param() -> str:
    return f'resource_metadata="{RESOURCE.metadata_url}"'


def test_every_refusal_points_at_the_metadata_and_names_the_scope(issuer: FakeIssuer, clock: FakeClock) -> None:
    store = MemoryStore()
    limited = store.add(policy={"resources": {"*": {"allow": ["GET"], "block": ["*"]}}})
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock),
                   APITokenBackend(store=store, clock=clock), BasicAuthBackend(verifier=Users(), clock=clock)],
                  protected_resource=RESOURCE)
    read = guard.requirement(resource="reports")

    anonymous = guard.check(make_request(), read)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == f'Bearer realm="api", scope="reports:read", {_metadata_param()}'

    forged = guard.check(make_request("Bearer not.a.jwt"), read)
    assert forged.status == 401 and _metadata_param() in forged.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]

    token = issuer.sign({"scope": "reports:read"}, now=clock.now)
    step_up = guard.check(make_request(f"Bearer {token}", method="POST"), read)
    assert step_up.status == 403
    assert step_up.headers["WWW-Authenticate"].endswith(f'scope="reports:write", {_metadata_param()}')

    by_policy = guard.check(make_request(f"token {limited}", method="DELETE"), read)
    assert by_policy.status == 403 and _metadata_param() in by_policy.headers["WWW-Authenticate"]

    wrong_password = guard.authenticate(make_request(basic("alice", "guess")))
    assert wrong_password.status == 401 and _metadata_param() in wrong_password.headers["WWW-Authenticate"]

    assert guard.check(make_request(f"Bearer {token}"), read).headers == {}


def test_without_metadata_challenges_are_unchanged(issuer: FakeIssuer) -> None:
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE)])
    result = guard.check(make_request(), guard.requirement(optional=False))
    assert result.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_flask_serves_the_document_at_both_well_known_paths(issuer: FakeIssuer) -> None:
    guard = FlaskGuard(backends=[BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE)], protected_resource=RESOURCE)
    app = Flask(__name__)
    guard.init_app(app)

    @app.get("/v1/reports")
    @guard.require(scopes=["reports:read"])
    def reports() -> Any:
        return jsonify([])

    client = app.test_client()
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/v1"):
        response = client.get(path)
        assert response.status_code == 200 and response.json == RESOURCE.document()
        assert response.mimetype == "application/json" and "max-age" in response.headers["Cache-Control"]
    assert client.get("/.well-known/oauth-protected-resource/other").status_code == 404
    refused = client.get("/v1/reports")
    assert refused.status_code == 401 and _metadata_param() in refused.headers["WWW-Authenticate"]
    assert refused.json is not None and refused.json["scope"] == "reports:read"
