"""Client ID Metadata Documents end to end: a client named by the https URL of its document,
served by a local HTTPS server with a test CA, through sign-in, consent (resource and host
shown), code and token (``aud`` = the resource); and every way the document can be wrong."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select, update

from authserver import create_app
from authserver.appstate import state
from authserver.extensions import db
from authserver.models import AuditEvent, Client
from authserver.models.types import utcnow
from authserver.oauth.names import CLIENT_ASSERTION_TYPE
from authserver.resources.registry import create_resource

from ..query_count import counted_queries
from .authorize_helpers import NATIVE_REDIRECT, authorize_url, consent, csrf_of, query_of, signed_in_flow
from .tls_server import DocumentServer, Route


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("cimd-tls"))
    yield server
    server.close()


def _app(server_settings: dict[str, Any], **settings: str) -> Flask:
    return create_app({**server_settings, "client_id_metadata_documents": "on", "cimd_allowed_hosts": "localhost",
                       **settings})


@pytest.fixture
def cimd_app(migrated_app: Flask, server_settings: dict[str, Any], documents: DocumentServer,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with documents on, trusting the test CA through SSL_CERT_FILE, and allowing
    the loopback test server as ``localhost`` (the development escape hatch)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(documents.ca_file))
    app = _app(server_settings)
    with app.app_context():
        yield app


@pytest.fixture
def resource(cimd_app: Flask) -> tuple[str, str]:
    """A registered protected resource and its scope, unique to the test."""
    tag = uuid.uuid4().hex[:8]
    uri, scope = f"https://mcp-{tag}.example/mcp", f"weather:read-{tag}"
    create_resource(uri, scope, name=f"Weather {tag}")
    return uri, scope


def publish(documents: DocumentServer, headers: dict[str, str] | None = None, **fields: Any) -> str:
    """Serve a metadata document at a fresh URL; ``fields`` override a valid public client."""
    path = f"/clients/{uuid.uuid4().hex}.json"
    client_id = documents.url(path)
    document = {"client_id": client_id, "client_name": "Weather agent", "redirect_uris": [NATIVE_REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}
    document.update(fields)
    document = {k: v for k, v in document.items() if v is not None}
    documents.routes[path] = Route(json.dumps(document).encode(),
                                   headers={"Content-Type": "application/json", **(headers or {})})
    return client_id


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_a_document_client_gets_a_token_for_the_resource(cimd_app: Flask, make_user, documents: DocumentServer,
                                                          resource: tuple[str, str]) -> None:
    uri, scope = resource
    client_id = publish(documents, scope=f"{scope} openid")
    flow = signed_in_flow(cimd_app, make_user, client_id, redirect_uri=NATIVE_REDIRECT)
    url = authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, resource=uri, scope=scope)
    page = flow.http.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert "Weather agent" in html
    assert f"Weather {uri[12:20]}" in html and uri in html  # the resource by name and URI
    assert "described itself at <strong>localhost</strong>" in html
    assert "receives your answer at\n       <strong>127.0.0.1</strong>" in html
    assert "runs on your own computer" in html

    answer = flow.http.post(url, data={"csrf_token": csrf_of(html), "decision": "allow"})
    assert answer.status_code == 303
    code = query_of(answer.headers["Location"])["code"]
    issued = flow.redeem(code, resource=uri)
    assert issued.status_code == 200, issued.get_json()
    body = issued.get_json()
    got = claims(body["access_token"])
    assert got["aud"] == uri
    assert got["client_id"] == client_id
    assert body["scope"] == scope
    assert "refresh_token" in body


def test_the_document_is_cached_and_refetched_once_stale(cimd_app: Flask, documents: DocumentServer,
                                                          resource: tuple[str, str]) -> None:
    client_id = publish(documents, headers={"Cache-Control": "max-age=999999"})
    path = client_id.split(str(documents.port), 1)[1]
    server = state(cimd_app).server
    first = server.query_client(client_id)
    assert first is not None and first.name == "Weather agent"
    fetched = documents.requests.count(path)
    assert server.query_client(client_id) is not None
    assert documents.requests.count(path) == fetched  # served from the row, not fetched again
    row = db.session.scalar(select(Client).where(Client.client_id == client_id))
    assert row is not None and row.document_expires_at is not None
    # max-age beyond the bound is kept at one day
    assert row.document_expires_at - utcnow() <= timedelta(days=1)

    document = json.loads(documents.routes[path].body)
    documents.routes[path] = Route(json.dumps({**document, "client_name": "Renamed agent"}).encode())
    db.session.execute(update(Client).where(Client.client_id == client_id).values(document_expires_at=utcnow()))
    db.session.commit()
    server.clients.invalidate(client_id)
    refreshed = server.query_client(client_id)
    assert refreshed is not None and refreshed.name == "Renamed agent"
    assert documents.requests.count(path) == fetched + 1
    # One registration in the audit trail: the first fetch's, not the refetch's.
    registered = db.session.scalars(select(AuditEvent).where(AuditEvent.client_id == client_id)).all()
    assert [(e.type, e.details["via"]) for e in registered] == [("registration.created", "metadata document")]


def _refusal(app: Flask, client_id: str, **extra: str) -> str:
    """The authorization endpoint's answer for a broken document: a page, never a redirect."""
    resp = app.test_client().get(authorize_url(client_id, NATIVE_REDIRECT, "x" * 43, **extra))
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert "Location" not in resp.headers
    return resp.get_data(as_text=True)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"client_id": "https://other.example/client.json"}, "client_id is not exactly the URL"),
    ({"redirect_uris": None}, "has no redirect_uris"),
    ({"client_name": None}, "has no client_name"),
    ({"client_secret": "s3cret"}, "may not contain a client_secret"),
    ({"token_endpoint_auth_method": "client_secret_basic"}, "must be none or private_key_jwt"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "needs exactly one of jwks"),
    ({"grant_types": ["client_credentials"]}, "public client cannot use client_credentials"),
    ({"redirect_uris": ["http://evil.example/cb"]}, "must use https"),
])
def test_a_wrong_document_is_an_error_page_with_the_reason(cimd_app: Flask, documents: DocumentServer,
                                                            fields: dict[str, Any], reason: str) -> None:
    client_id = publish(documents, **fields)
    assert reason in _refusal(cimd_app, client_id)


def test_an_http_client_id_is_refused(cimd_app: Flask) -> None:
    assert "must use https" in _refusal(cimd_app, "http://localhost/client.json")


def test_a_client_id_url_without_a_path_is_refused(cimd_app: Flask) -> None:
    assert "needs a path" in _refusal(cimd_app, "https://localhost")


def test_a_document_that_is_not_json_is_refused(cimd_app: Flask, documents: DocumentServer) -> None:
    documents.routes["/broken.json"] = Route(b"<html>")
    assert "is not JSON" in _refusal(cimd_app, documents.url("/broken.json"))


def test_a_document_nested_without_end_is_refused_not_a_500(cimd_app: Flask, documents: DocumentServer) -> None:
    """2,500 levels (within the size bound) made the parser raise RecursionError before."""
    documents.routes["/deep.json"] = Route(b"[" * 2500 + b"]" * 2500)
    assert "nests deeper than 32 levels" in _refusal(cimd_app, documents.url("/deep.json"))


def test_an_oversized_document_is_refused(cimd_app: Flask, documents: DocumentServer) -> None:
    client_id = publish(documents, padding="x" * 6000)
    assert "larger than 5120 bytes" in _refusal(cimd_app, client_id)


def test_a_missing_document_is_refused(cimd_app: Flask, documents: DocumentServer) -> None:
    assert "answered 404" in _refusal(cimd_app, documents.url("/nothing-here.json"))


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]"])
def test_private_addresses_are_never_fetched(cimd_app: Flask, documents: DocumentServer, host: str,
                                             server_settings: dict[str, Any]) -> None:
    """With no allow-list, nothing on a private address is fetched, whatever the spelling;
    with one, only the hosts it names."""
    before = len(documents.requests)
    open_app = _app(server_settings, cimd_allowed_hosts="")
    with open_app.app_context():
        html = _refusal(open_app, f"https://{host}:{documents.port}/clients/x.json")
    assert "non-public address" in html
    assert "accepts metadata documents only from the hosts it allows" in _refusal(
        cimd_app, f"https://{host}:{documents.port}/clients/x.json")
    assert len(documents.requests) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "[::1]"])
def test_a_documents_jwks_uri_aiming_inward_is_refused_before_any_key_fetch(
        cimd_app: Flask, documents: DocumentServer, host: str) -> None:
    """SSRF: a public document naming an internal jwks_uri is refused when it is read, so the
    server never GETs the keys (the document itself is on an allow-listed host)."""
    keys = f"/keys/{uuid.uuid4().hex}.json"
    client_id = publish(documents, token_endpoint_auth_method="private_key_jwt",
                        jwks_uri=f"https://{host}:{documents.port}{keys}")
    assert "jwks_uri must reach a public address" in _refusal(cimd_app, client_id)
    assert keys not in documents.requests


def test_the_token_endpoint_answers_invalid_client_for_a_broken_document(cimd_app: Flask) -> None:
    resp = cimd_app.test_client().post("/oauth/token", data={
        "grant_type": "authorization_code", "code": "asac_x", "client_id": "http://localhost/client.json",
        "redirect_uri": NATIVE_REDIRECT, "code_verifier": "v" * 43})
    assert resp.status_code in (400, 401)
    assert resp.get_json()["error"] == "invalid_client"
    assert "must use https" in resp.get_json()["error_description"]


def test_a_private_key_jwt_document_client_authenticates_with_its_key(
        cimd_app: Flask, make_user, documents: DocumentServer, resource: tuple[str, str]) -> None:
    """The document's key set is the client's: an assertion signed by another key, or none at
    all, is invalid_client and leaves the code unspent; one it signs redeems the code."""
    key, stranger = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwk = {**pyjwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "use": "sig"}
    client_id = publish(documents, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [jwk]})
    flow = signed_in_flow(cimd_app, make_user, client_id, redirect_uri=NATIVE_REDIRECT)

    def signed(by: Any) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": state(cimd_app).settings.issuer, "iat": now,
                  "exp": now + 60, "jti": uuid.uuid4().hex}
        return {"client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": pyjwt.encode(claims, by, algorithm="ES256", headers={"kid": "k1"})}

    code = flow.code(resource=resource[0])
    for refused_form in ({}, signed(stranger)):
        resp = flow.redeem(code, None, **refused_form)
        assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    resp = flow.redeem(code, None, **signed(key))
    assert resp.status_code == 200, resp.get_json()
    assert pyjwt.decode(resp.get_json()["access_token"], options={"verify_signature": False})["aud"] == resource[0]


def test_documents_off_means_url_client_ids_are_unknown(migrated_app: Flask, documents: DocumentServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(documents.ca_file))
    client_id = publish(documents)
    before = len(documents.requests)
    with migrated_app.app_context():
        html = _refusal(migrated_app, client_id)
    assert "does not exist" in html
    assert len(documents.requests) == before


def test_a_document_client_is_asked_for_consent_every_time(cimd_app: Flask, make_user, documents: DocumentServer,
                                                           resource: tuple[str, str]) -> None:
    client_id = publish(documents)
    flow = signed_in_flow(cimd_app, make_user, client_id, redirect_uri=NATIVE_REDIRECT)
    flow.code(resource=resource[0])
    again = flow.http.get(authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, resource=resource[0]))
    assert again.status_code == 200  # the consent page again, not a redirect with a code
    assert consent(flow.http, authorize_url(client_id, NATIVE_REDIRECT, flow.challenge,
                                            resource=resource[0])).status_code == 303


def test_metadata_announces_documents_only_when_on(cimd_app: Flask, migrated_app: Flask) -> None:
    on = cimd_app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert on["client_id_metadata_document_supported"] is True
    assert "none" in on["token_endpoint_auth_methods_supported"]
    assert on["authorization_response_iss_parameter_supported"] is True
    off = migrated_app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert "client_id_metadata_document_supported" not in off


def _redirected(flow: Any, client_id: str, **params: str) -> dict[str, str]:
    resp = flow.http.get(authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, state="s9", **params))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"].startswith(NATIVE_REDIRECT + "?")
    return query_of(resp.headers["Location"])


def test_a_document_client_may_ask_only_for_registered_resources_and_their_scopes(
        cimd_app: Flask, make_user, documents: DocumentServer, resource: tuple[str, str]) -> None:
    client_id = publish(documents, scope="admin:everything openid")  # asks for more than is offered
    flow = signed_in_flow(cimd_app, make_user, client_id, redirect_uri=NATIVE_REDIRECT)
    unregistered = _redirected(flow, client_id, resource="https://unregistered.example/mcp")
    assert unregistered["error"] == "invalid_target" and unregistered["state"] == "s9"
    assert _redirected(flow, client_id, resource=resource[0], scope="admin:everything")["error"] == "invalid_scope"
    assert _redirected(flow, client_id, resource=resource[0], scope=resource[1])["error"] == "invalid_scope"
    allowed = flow.http.get(authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, resource=resource[0],
                                          scope="openid"))
    assert allowed.status_code == 200  # the OpenID scopes are always on offer


def test_a_new_resource_reaches_known_document_clients(cimd_app: Flask, make_user, documents: DocumentServer) -> None:
    """The registry is read at token time, not copied into the client's row: a resource
    registered after the document was read is there to ask for, its scope with it."""
    client_id = publish(documents, headers={"Cache-Control": "max-age=3600"})
    flow = signed_in_flow(cimd_app, make_user, client_id, redirect_uri=NATIVE_REDIRECT)
    uri = f"https://new-{uuid.uuid4().hex[:8]}.example/mcp"
    assert _redirected(flow, client_id, resource=uri)["error"] == "invalid_target"
    create_resource(uri, "late:read")
    state(cimd_app).server.clients.invalidate(client_id)  # what client_cache_ttl does on other workers
    asked = flow.http.get(authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, resource=uri, scope="late:read"))
    assert asked.status_code == 200 and "late:read" in asked.text
    stored = db.session.scalar(select(Client).where(Client.client_id == client_id))
    assert stored is not None and stored.audiences == [] and stored.registered_by == "document"


def test_a_document_that_redirects_to_a_private_address_is_refused(cimd_app: Flask, documents: DocumentServer) -> None:
    documents.routes["/hop.json"] = Route(status=302, headers={"Location": "https://169.254.169.254/latest/meta-data/"})
    assert "redirects are not followed" in _refusal(cimd_app, documents.url("/hop.json"))


def test_each_scope_must_belong_to_a_resource_asked_for(cimd_app: Flask, make_user, documents: DocumentServer,
                                                        resource: tuple[str, str]) -> None:
    """Two APIs: a token for one may not carry the other's scopes."""
    other_uri, other_scope = f"https://other-{uuid.uuid4().hex[:8]}.example/mcp", "other:write"
    create_resource(other_uri, other_scope)
    client_id = publish(documents)
    flow = signed_in_flow(cimd_app, make_user, client_id, redirect_uri=NATIVE_REDIRECT)
    crossed = _redirected(flow, client_id, resource=resource[0], scope=f"{resource[1]} {other_scope}")
    assert crossed["error"] == "invalid_scope"
    own = flow.http.get(authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, resource=resource[0],
                                      scope=f"{resource[1]} openid"))
    assert own.status_code == 200
    both = authorize_url(client_id, NATIVE_REDIRECT, flow.challenge, scope=f"{resource[1]} {other_scope}")
    both += f"&resource={resource[0]}&resource={other_uri}"
    assert flow.http.get(both).status_code == 200


def test_a_documents_first_fetch_costs_the_same_queries_whatever_its_size(
        cimd_app: Flask, documents: DocumentServer, resource: tuple[str, str]) -> None:
    """Reading a stranger's document for the first time: the statements do not grow with the
    redirect URIs and scopes it lists (issue 23: work that grows with attacker input). The
    cache's lookup, the scope offer's two reads, the row's lookup, the audit event, the INSERT,
    the change announced (PostgreSQL's NOTIFY) and the row read back."""
    scope = resource[1]
    many = [f"http://127.0.0.1:{9000 + i}/callback" for i in range(40)]
    server = state(cimd_app).server
    counts = []
    for redirects, scopes in (([NATIVE_REDIRECT], scope), ([NATIVE_REDIRECT, *many], " ".join(
            [scope, *(f"other:{i}" for i in range(40))]))):
        client_id = publish(documents, redirect_uris=redirects, scope=scopes)
        with counted_queries(cimd_app) as statements:
            assert server.query_client(client_id) is not None
        counts.append(len(statements))
    notify = 1 if db.engine.dialect.name == "postgresql" else 0  # the change channel's NOTIFY
    assert counts == [7 + notify] * 2, counts
