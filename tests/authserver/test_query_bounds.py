"""Work on open endpoints does not grow with what a stranger sends (issue 23): a bound on
``resource`` values, checked before any lookup, query counts that stay flat as the input
grows, and JSON nested without end refused as the endpoint's error, never a 500."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask

from authserver.oauth.grants import MAX_RESOURCES
from resource_guard.strictjson import MAX_DEPTH

from ..query_count import counted_queries
from .authorize_helpers import REDIRECT, authorize_url, pkce_pair, sign_in
from .helpers import basic
from .test_registration import WEB_APP, refused

RESOURCES = [f"https://api{i}.example" for i in range(MAX_RESOURCES + 1)]


def token_request(app: Flask, client, resources: list[str]):
    body = urlencode([("grant_type", "client_credentials"), *(("resource", r) for r in resources)])
    return app.test_client().post("/oauth/token", data=body, content_type="application/x-www-form-urlencoded",
                                  headers=basic(client.client_id, client.client_secret))


def test_more_than_16_resources_at_the_token_endpoint_is_invalid_target_before_any_query(
        app: Flask, make_client) -> None:
    client = make_client()
    with counted_queries(app) as statements:
        response = token_request(app, client, RESOURCES)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_target"
    assert statements == []


def test_the_token_endpoints_queries_do_not_grow_with_the_resources_named(app: Flask, make_client) -> None:
    """One unknown resource or sixteen: the same statements, nothing per resource (the client
    is read once, then served from the client cache)."""
    client = make_client()
    token_request(app, client, RESOURCES[:1])
    counts = []
    for resources in (RESOURCES[:1], RESOURCES[:MAX_RESOURCES]):
        with counted_queries(app) as statements:
            response = token_request(app, client, resources)
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


def test_the_consent_pages_queries_do_not_grow_with_the_scopes_asked_for(app: Flask, make_client, make_user) -> None:
    """Describing 1 or 20 scopes on the consent page reads the catalogue once, not per scope."""
    many = [f"notes:{i}" for i in range(20)]
    client = make_client(scope=" ".join(many), grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                         public=True)
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    counts = []
    for scopes in (many[:1], many):
        url = authorize_url(client.client_id, challenge=pkce_pair()[1], scope=" ".join(scopes))
        http.get(url)  # warm: the client cache, the key ring
        with counted_queries(app) as statements:
            assert http.get(url).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
