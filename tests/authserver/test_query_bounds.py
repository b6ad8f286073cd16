"""Work on open endpoints does not grow with what a stranger sends (issue 23): a bound on
``resource`` values, checked before any lookup, query counts that stay flat as the input
grows, and JSON nested without end refused as the endpoint's error, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.models import ProtectedResource
from authserver.oauth.grants import MAX_RESOURCES
from authserver.resources.registry import create_resource
from resource_guard.strictjson import MAX_DEPTH

from ..query_count import counted_queries
from .authorize_helpers import REDIRECT, authorize_url, pkce_pair, sign_in, signed_in_flow
from .helpers import basic
from .test_registration import WEB_APP, refused, register

RESOURCES = [f"https://api{i}.example" for i in range(MAX_RESOURCES + 1)]


def token_request(app: Flask, auth: dict[str, str], resources: list[str]) -> TestResponse:
    """Client credentials with ``auth``'s Basic header, naming ``resources``."""
    body = urlencode([("grant_type", "client_credentials"), *(("resource", r) for r in resources)])
    return app.test_client().post("/oauth/token", data=body, content_type="application/x-www-form-urlencoded",
                                  headers=auth)


def test_more_than_16_resources_at_the_token_endpoint_is_invalid_target_before_any_query(
        app: Flask, make_client) -> None:
    client = make_client()
    with counted_queries(app) as statements:
        response = token_request(app, basic(client.client_id, client.client_secret), RESOURCES)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_target"
    assert statements == []


def test_the_token_endpoints_queries_do_not_grow_with_the_resources_named(app: Flask, make_client) -> None:
    """One unknown resource or sixteen: the same statements, nothing per resource (the client
    is read once, then served from the client cache)."""
    client = make_client()
    auth = basic(client.client_id, client.client_secret)
    token_request(app, auth, RESOURCES[:1])
    counts = []
    for resources in (RESOURCES[:1], RESOURCES[:MAX_RESOURCES]):
        with counted_queries(app) as statements:
            response = token_request(app, auth, resources)
        assert response.get_json()["error"] == "invalid_target"
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_more_than_16_resources_at_the_authorization_endpoint_is_redirected_as_invalid_target(
        app: Flask, make_client, make_user) -> None:
    client = make_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT], public=True)
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    url = authorize_url(client.client_id, challenge=pkce_pair()[1]) + "&" + urlencode(
        [("resource", r) for r in RESOURCES])
    response = http.get(url)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert parse_qs(location.query)["error"] == ["invalid_target"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 30_000])
def test_registration_metadata_nested_too_deep_is_invalid_client_metadata(apps, depth: int) -> None:
    """30,000 levels made the parser raise RecursionError: a 500 before the bound."""
    body = '{"client_name": "deep", "x": ' + "[" * depth + "]" * depth + "}"
    response = apps("open").test_client().post("/oauth/register", data=body, content_type="application/json",
                                               environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert "nests deeper" in refused(response, "invalid_client_metadata")["error_description"]


def test_registration_metadata_within_the_depth_bound_registers(apps) -> None:
    app = apps("open")
    document = {**WEB_APP, "x": [[[[["fine"]]]]]}
    response = app.test_client().post("/oauth/register", json=document, environ_base={"REMOTE_ADDR": "10.1.2.4"})
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
                                  "/oauth/jwks"])
def test_discovery_documents_cost_one_query_whatever_the_url_carries(app: Flask, path: str) -> None:
    """Metadata reads the published scopes, the key set reads the keys: one statement each,
    with or without a query string a stranger pads."""
    http = app.test_client()
    http.get(path)
    for url in (path, path + "?" + urlencode([("x", "y" * 100)] * 200)):
        with counted_queries(app) as statements:
            assert http.get(url).status_code == 200
        assert len(statements) == 1, statements


# --- Pinned statement counts, endpoint by endpoint ------------------------------------------
# Each open endpoint's warm path costs exactly these statements, the same for one item of input
# as for many: a change that buys one more query per request (or per item) fails here.

def _counted(app: Flask, send: Callable[[], TestResponse], status: int) -> list[str]:
    with counted_queries(app) as statements:
        response = send()
    assert response.status_code == status, response.get_data(as_text=True)
    return statements


def test_the_token_endpoint_pins_its_statements(app: Flask, apps, make_client) -> None:
    """Client credentials for an administrator's client: the token's row, nothing else (the
    client and the keys are cached). A self-registered client adds the scope offer's two
    reads, for one resource named or sixteen. An unknown client: two lookups and the audit
    event of the refusal, whatever its id."""
    client = make_client()
    auth = basic(client.client_id, client.client_secret)
    form = {"grant_type": "client_credentials"}
    http = app.test_client()
    http.post("/oauth/token", data=form, headers=auth)
    assert len(_counted(app, lambda: http.post("/oauth/token", data=form, headers=auth), 200)) == 1

    machine = apps("open", registration_grant_types="client_credentials")
    stranger = register(machine, {"client_name": "job", "grant_types": ["client_credentials"]}).get_json()
    stranger_auth = basic(stranger["client_id"], stranger["client_secret"])
    token_request(machine, stranger_auth, [])
    assert len(_counted(machine, lambda: token_request(machine, stranger_auth, []), 200)) == 3
    for resources in (RESOURCES[:1], RESOURCES[:MAX_RESOURCES]):  # and the refusal's audit event
        assert len(_counted(machine, partial(token_request, machine, stranger_auth, resources), 400)) == 3

    for client_id in ("nobody", "n" * 64):
        unknown = partial(http.post, "/oauth/token", data=form, headers=basic(client_id, "secret"))
        assert len(_counted(app, unknown, 401)) == 3


def test_the_authorization_endpoint_pins_its_statements(app: Flask, apps, make_client, make_user,
                                                        migrated_app: Flask) -> None:
    """The consent page of an administrator's client: the session, the consent on file and the
    scopes' descriptions, for 1 scope or 20. A self-registered client asking for a resource:
    the session, the scope offer's two reads, the descriptions and the resource's name (it is
    asked every time, so no consent is looked up). Not signed in: no query, only the redirect
    to the sign-in page."""
    many = [f"notes:{i}" for i in range(20)]
    client = make_client(scope=" ".join(many), grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                         public=True)
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    for scopes in (many[:1], many):
        url = authorize_url(client.client_id, challenge=pkce_pair()[1], scope=" ".join(scopes))
        http.get(url)
        assert len(_counted(app, partial(http.get, url), 200)) == 3
    assert _counted(app, partial(app.test_client().get, url), 303) == []

    resource = f"https://api-{uuid.uuid4().hex[:8]}.example/mcp"
    with migrated_app.app_context():
        create_resource(resource, "tools:call", name="Tools")
    try:
        web = apps("open")
        stranger = register(web, WEB_APP, scope="openid tools:call").get_json()["client_id"]
        browser = web.test_client()
        assert sign_in(browser, *make_user()).status_code == 303
        url = authorize_url(stranger, WEB_APP["redirect_uris"][0], pkce_pair()[1], resource=resource,
                            scope="tools:call")
        browser.get(url)
        assert len(_counted(web, partial(browser.get, url), 200)) == 5
    finally:
        with migrated_app.app_context():
            db.session.query(ProtectedResource).filter(ProtectedResource.uri == resource).delete()
            db.session.commit()


def test_a_code_exchange_pins_its_statements(app: Flask, make_client, make_user) -> None:
    """Redeeming a code at /oauth/token: the code's read and its claim, the audit event, and
    one INSERT for the access and refresh tokens, the same for 1 scope or 20."""
    many = [f"notes:{i}" for i in range(20)]
    client = make_client(scope=" ".join(many), grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[REDIRECT], public=True)
    flow = signed_in_flow(app, make_user, client.client_id)
    flow.redeem(flow.code(scope=many[-1]))  # warm: the client cache, the key ring
    for scopes in (many[:1], many):
        code = flow.code(scope=" ".join(scopes))
        statements = _counted(app, partial(flow.redeem, code), 200)
        assert len(statements) == 4, statements
