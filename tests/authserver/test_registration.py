"""Clients that register themselves: RFC 7591 in each ``dynamic_registration`` mode, the
server's policy, initial access tokens, the rate limit, and RFC 7592 management."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from authserver import create_app
from authserver.appstate import state
from authserver.clients.registration_tokens import create_registration_token
from authserver.extensions import db
from authserver.models import Client, RegistrationToken, Token
from authserver.models.types import utcnow
from authserver.resources.catalogue import create_scope, find_scope

from ..query_count import counted_queries
from .helpers import basic, introspect

WEB_APP = {
    "client_name": "Notes for MCP",
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "openid offline_access",
    # Fields this server does not know are ignored (RFC 7591 §2).
    "client_uri": "https://notes.example",
    "software_id": "notes",
}
MACHINE_GRANTS = "authorization_code refresh_token client_credentials"


def register(app: Flask, document: dict[str, Any] | None = None, *, token: str | None = None,
             address: str | None = None, **changes: Any) -> TestResponse:
    """POST /oauth/register from ``address`` (by default one of its own, so tests do not
    share a rate-limit budget)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    address = address or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    return app.test_client().post("/oauth/register", json={**(document or WEB_APP), **changes}, headers=headers,
                                  environ_base={"REMOTE_ADDR": address})


def manage(app: Flask, method: str, client_id: str, token: str, body: dict[str, Any] | None = None) -> TestResponse:
    return app.test_client().open(f"/oauth/register/{client_id}", method=method, json=body,
                                  headers={"Authorization": f"Bearer {token}"})


def initial_token(app: Flask, **kw: Any) -> str:
    with app.app_context():
        return create_registration_token(state(app).hasher, **kw)[1]


def refused(response: TestResponse, error: str, status: int = 400) -> dict[str, Any]:
    body = response.get_json()
    assert (response.status_code, body["error"]) == (status, error), body
    return body


def test_registration_is_off_by_default(app: Flask) -> None:
    assert state(app).settings.dynamic_registration == "off"
    response = register(app)
    assert response.status_code == 404 and response.get_json()["error"] == "invalid_request"
    metadata = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert "registration_endpoint" not in metadata


def test_open_registration_answers_rfc7591_client_information(apps) -> None:
    app = apps("open")
    response = register(app)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    issuer = state(app).settings.issuer
    assert body["registration_client_uri"] == f"{issuer}/oauth/register/{body['client_id']}"
    assert body["registration_access_token"].startswith("asrat_")
    assert isinstance(body["client_id_issued_at"], int)
    assert "client_secret" not in body and "client_secret_expires_at" not in body  # a public client
    assert body["redirect_uris"] == WEB_APP["redirect_uris"] and body["token_endpoint_auth_method"] == "none"
    assert body["scope"] == "openid offline_access" and "client_uri" not in body
    metadata = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert metadata["registration_endpoint"] == f"{issuer}/oauth/register"
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == body["client_id"]))
        assert client is not None and client.registered_by == "self"
        assert client.registration_token_hash == state(app).hasher.hash(body["registration_access_token"])


def test_a_confidential_client_gets_a_secret_that_works(apps) -> None:
    app = apps("open", registration_grant_types=MACHINE_GRANTS)
    body = register(app, {"client_name": "nightly job", "grant_types": ["client_credentials"],
                          "scope": "openid"}).get_json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["client_secret"].startswith("ascs_") and body["client_secret_expires_at"] == 0
    response = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                      headers=basic(body["client_id"], body["client_secret"]))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"redirect_uris": ["http://app.example/callback"]}, "invalid_redirect_uri", "https"),
        ({"redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri", "fragment"),
        ({"redirect_uris": ["myapp:/callback"]}, "invalid_redirect_uri", "reverse-domain"),
        ({"grant_types": ["client_credentials"], "response_types": [],
          "token_endpoint_auth_method": "client_secret_basic"},
         "invalid_client_metadata", "client_credentials is not available"),
        ({"scope": "openid admin:everything"}, "invalid_client_metadata", "admin:everything"),
        ({"audiences": ["https://api.example"]}, "invalid_client_metadata", "audiences"),
        ({"token_endpoint_auth_method": "none", "introspect_any": True}, "invalid_client_metadata", "introspect"),
        ({"require_pkce": False, "token_endpoint_auth_method": "client_secret_basic"},
         "invalid_client_metadata", "PKCE"),
        ({"token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata", "token_endpoint_auth_method"),
        ({"redirect_uris": "https://app.example/cb"}, "invalid_client_metadata", "array"),
        ({"software_statement": "eyJ..."}, "invalid_software_statement", "software statements"),
    ],
)
def test_the_policy_refuses_what_a_self_registered_client_may_not_have(
    apps, changes: dict[str, Any], error: str, field: str
) -> None:
    body = refused(register(apps("open"), **changes), error)
    assert field in body["error_description"]


def test_the_policy_allows_native_redirects_and_offered_scopes(apps, app: Flask) -> None:
    if find_scope("notes:read") is None:
        create_scope("notes:read", "Read your notes", public=True)
    open_app = apps("open", registration_scopes="tasks:write")
    uris = ["http://127.0.0.1/callback", "http://[::1]:9000/cb", "com.example.notes:/oauth", "https://notes.example/cb"]
    response = register(open_app, redirect_uris=uris, scope="openid profile email notes:read tasks:write")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["redirect_uris"] == uris


def test_a_registration_makes_seven_queries_for_fifty_scopes_as_for_one(apps) -> None:
    """An unauthenticated registration must not buy database work per scope it names (one
    with 50 made 102): the rate limit's purge and count, the scope offer's two reads, the
    audit event, the client's INSERT and its read back, whatever it asks for."""
    many = [f"bulk:{n}" for n in range(50)]
    app = apps("open", registration_scopes=" ".join(many))

    def queries(scope: str) -> int:
        with counted_queries(app) as statements:
            assert register(app, scope=scope).status_code == 201
        return len(statements)

    assert queries(" ".join(many)) == queries(many[0]) == 7


def test_only_the_configured_auth_methods(apps) -> None:
    app = apps("open", registration_auth_methods="none")
    refused(register(app, token_endpoint_auth_method="client_secret_post"), "invalid_client_metadata")
    assert register(app).status_code == 201


def test_malformed_requests_are_invalid_client_metadata(apps) -> None:
    http = apps("open").test_client()
    refused(http.post("/oauth/register", data="client_name=x", content_type="application/x-www-form-urlencoded"),
            "invalid_client_metadata")
    refused(http.post("/oauth/register", data="{not json", content_type="application/json"), "invalid_client_metadata")
    refused(http.post("/oauth/register", data='{"client_name": NaN}', content_type="application/json"),
            "invalid_client_metadata")
    refused(http.post("/oauth/register", json=["a list"]), "invalid_client_metadata")


def test_open_registration_is_rate_limited_per_address(apps) -> None:
    app = apps("open", registration_rate_limit=2)
    address = "192.0.2.7"
    assert [register(app, address=address).status_code for _ in range(2)] == [201, 201]
    response = register(app, address=address)
    refused(response, "invalid_request", 429)
    assert int(response.headers["Retry-After"]) > 0
    assert register(app, address="192.0.2.8").status_code == 201


def test_initial_token_mode_needs_a_usable_token(apps) -> None:
    app = apps("initial-token")
    challenge = refused(register(app), "invalid_token", 401)
    assert "initial access token" in challenge["error_description"]
    assert register(app).headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    refused(register(app, token="asiat_" + "x" * 40), "invalid_token", 401)
    metadata = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert metadata["registration_endpoint"].endswith("/oauth/register")

    once = initial_token(app, max_uses=1)
    refused(register(app, token=once, redirect_uris=["http://evil.example/cb"]), "invalid_redirect_uri")
    assert register(app, token=once).status_code == 201  # the refusal above spent nothing
    refused(register(app, token=once), "invalid_token", 401)  # spent

    expired = initial_token(app, expires_in=60)
    revoked = initial_token(app)
    with app.app_context():
        hasher = state(app).hasher
        db.session.execute(update(RegistrationToken).where(RegistrationToken.token_hash == hasher.hash(expired))
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.execute(update(RegistrationToken).where(RegistrationToken.token_hash == hasher.hash(revoked))
                           .values(revoked_at=utcnow()))
        db.session.commit()
    refused(register(app, token=expired), "invalid_token", 401)
    refused(register(app, token=revoked), "invalid_token", 401)
    unlimited = initial_token(app)
    assert [register(app, token=unlimited).status_code for _ in range(3)] == [201] * 3


def test_rfc7592_read_update_and_delete(apps) -> None:
    app = apps("open")
    created = register(app).get_json()
    client_id, token = created["client_id"], created["registration_access_token"]

    read = manage(app, "GET", client_id, token)
    assert read.status_code == 200 and read.get_json()["client_name"] == WEB_APP["client_name"]
    new_token = read.get_json()["registration_access_token"]
    assert new_token != token and read.get_json()["registration_client_uri"] == created["registration_client_uri"]
    refused(manage(app, "GET", client_id, token), "invalid_token", 401)  # replaced by the new one

    changed = {**read.get_json(), "client_name": "Notes, renamed", "redirect_uris": ["https://notes.example/cb"]}
    updated = manage(app, "PUT", client_id, new_token, changed)
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["client_name"] == "Notes, renamed"
    assert updated.get_json()["redirect_uris"] == ["https://notes.example/cb"]
    token = updated.get_json()["registration_access_token"]

    refused(manage(app, "PUT", client_id, token, {**changed, "redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri")
    refused(manage(app, "PUT", client_id, token, {**changed, "client_id": "another"}), "invalid_client_metadata")
    assert manage(app, "GET", client_id, token).status_code == 200  # refusals changed nothing, token included


def test_update_may_switch_to_a_secret_and_must_quote_it_right(apps) -> None:
    app = apps("open")
    created = register(app).get_json()
    as_confidential = {**WEB_APP, "client_id": created["client_id"], "token_endpoint_auth_method": "client_secret_post"}
    switched = manage(app, "PUT", created["client_id"], created["registration_access_token"], as_confidential)
    body = switched.get_json()
    assert switched.status_code == 200 and body["client_secret"].startswith("ascs_")
    wrong = {**WEB_APP, "client_id": created["client_id"], "token_endpoint_auth_method": "client_secret_post",
             "client_secret": "ascs_wrong"}
    refused(manage(app, "PUT", created["client_id"], body["registration_access_token"], wrong),
            "invalid_client_metadata")


def test_delete_removes_the_client_and_its_tokens(apps, make_client) -> None:
    app = apps("open", registration_grant_types=MACHINE_GRANTS)
    created = register(app, {"client_name": "job", "grant_types": ["client_credentials"]}).get_json()
    issued = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                    headers=basic(created["client_id"], created["client_secret"])).get_json()
    admin = make_client(introspect_any=True)
    assert introspect(app, admin.basic, issued["access_token"]).get_json()["active"] is True

    deleted = manage(app, "DELETE", created["client_id"], created["registration_access_token"])
    assert deleted.status_code == 204
    assert introspect(app, admin.basic, issued["access_token"]).get_json() == {"active": False}
    refused(manage(app, "GET", created["client_id"], created["registration_access_token"]), "invalid_token", 401)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)
                                 .where(Client.client_id == created["client_id"])) == 0
        assert db.session.scalar(select(func.count()).select_from(Token).join(Client)
                                 .where(Client.client_id == created["client_id"])) == 0


def test_another_clients_token_is_refused_like_an_unknown_client(apps, make_client) -> None:
    app = apps("open")
    mine, theirs = register(app).get_json(), register(app).get_json()
    wrong = manage(app, "GET", theirs["client_id"], mine["registration_access_token"])
    unknown = manage(app, "GET", "no-such-client", mine["registration_access_token"])
    admin_made = make_client()  # registered by the command line: has no registration token
    not_self = manage(app, "GET", admin_made.client_id, mine["registration_access_token"])
    for response in (wrong, unknown, not_self):
        refused(response, "invalid_token", 401)
    assert wrong.get_json() == unknown.get_json() == not_self.get_json()
    assert manage(app, "DELETE", theirs["client_id"], mine["registration_access_token"]).status_code == 401
    assert manage(app, "GET", theirs["client_id"], theirs["registration_access_token"]).status_code == 200


def test_management_keeps_working_once_registration_is_off(apps) -> None:
    created = register(apps("open")).get_json()
    off = apps("off")
    assert register(off).status_code == 404
    assert manage(off, "DELETE", created["client_id"], created["registration_access_token"]).status_code == 204


def test_with_redis_workers_share_the_registration_limit(apps, server_settings: dict[str, Any]) -> None:
    settings = {"registration_rate_limit": 3, "redis_url": "redis://127.0.0.1:6379/0"}
    first = apps("open", **settings)
    second = create_app({**server_settings, "dynamic_registration": "open", **settings})
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex}"  # fresh keys on every run
    statuses = [register(app, address=address).status_code for app in (first, second, first, second)]
    assert statuses == [201, 201, 201, 429]
    with second.app_context():
        db.engine.dispose()
