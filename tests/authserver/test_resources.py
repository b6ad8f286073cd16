"""The protected resources registry (``authserver resources``) and RFC 8707 ``resource`` at the
authorization endpoint: checked, shown on the consent page, bound to the code, only ever
narrowed at the token endpoint; refusals are ``invalid_target`` redirects (RFC 8707 §2)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask

from .authorize_helpers import REDIRECT, authorize_url, consent, query_of, signed_in_flow
from .test_client_documents import claims

API_A, API_B = "https://a.example/api", "https://b.example/api"


@pytest.fixture
def cli(migrated_app: Flask):
    runner = migrated_app.test_cli_runner()

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(args=list(args))
        assert (result.exit_code == 0) == ok, result.output + result.stderr
        return result

    return run


def test_resources_lifecycle(cli) -> None:
    uri = f"https://api-{uuid.uuid4().hex[:8]}.example/mcp"
    created = json.loads(cli("resources", "create", uri, "--scope", "files:read files:read files:write",
                             "--name", " Files API ", "--json").stdout)
    assert created["uri"] == uri and created["scope"] == "files:read files:write" and created["name"] == "Files API"
    assert uri in [r["uri"] for r in json.loads(cli("resources", "list", "--json").stdout)]
    shown = cli("resources", "show", uri).stdout
    assert f"uri         {uri}" in shown and "name        Files API" in shown
    updated = json.loads(cli("resources", "update", uri, "--scope", "files:read", "--json").stdout)
    assert updated["scope"] == "files:read" and updated["name"] == "Files API"
    cli("resources", "delete", uri)
    assert "no resource" in cli("resources", "show", uri, ok=False).stderr


@pytest.mark.parametrize(("uri", "message"), [
    ("https://api.example/mcp#frag", "without a fragment"),
    ("api.example/mcp", "must be an absolute URI"),
    ("urn:example:api", "must be an https URI with a host"),
    ("http://api.example/mcp", "http is for loopback only"),
    ("ftp://api.example/mcp", "must be an https URI"),
])
def test_resources_create_refuses_what_is_not_a_resource_indicator(cli, uri: str, message: str) -> None:
    assert message in cli("resources", "create", uri, ok=False).stderr


def test_loopback_http_resources_are_allowed_for_development(cli) -> None:
    uri = f"http://127.0.0.1:{uuid.uuid4().int % 60000 + 1024}/mcp"
    assert json.loads(cli("resources", "create", uri, "--json").stdout)["uri"] == uri


def test_a_resource_is_registered_once(cli) -> None:
    uri = f"https://api-{uuid.uuid4().hex[:8]}.example/"
    cli("resources", "create", uri)
    assert "already registered" in cli("resources", "create", uri, ok=False).stderr


def test_a_bad_scope_is_refused(cli) -> None:
    assert "not a scope token" in cli("resources", "create", "https://x.example/", "--scope", 'a"b', ok=False).stderr


def _client(make_client) -> str:
    return make_client(scope="reports:read", public=True, grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                       audiences=[API_A, API_B]).client_id


def test_the_resource_is_shown_bound_to_the_code_and_becomes_the_audience(app: Flask, make_user, make_client) -> None:
    flow = signed_in_flow(app, make_user, _client(make_client))
    page = flow.http.get(authorize_url(flow.client_id, REDIRECT, flow.challenge, resource=API_B))
    html = page.get_data(as_text=True)
    assert f'<code class="resource-uri">{API_B}</code>' in html and API_A not in html
    assert "described itself" not in html  # an administrator registered this one
    token = flow.redeem(flow.code(resource=API_B)).get_json()
    assert claims(token["access_token"])["aud"] == API_B


def test_several_resources_may_be_asked_for_and_narrowed_at_the_token_endpoint(
        app: Flask, make_user, make_client) -> None:
    flow = signed_in_flow(app, make_user, _client(make_client))
    url = authorize_url(flow.client_id, REDIRECT, flow.challenge) + f"&resource={API_A}&resource={API_B}"
    page = flow.http.get(url).get_data(as_text=True)
    assert API_A in page and API_B in page
    answer = consent(flow.http, url)
    code = query_of(answer.headers["Location"])["code"]
    token = flow.redeem(code, resource=API_A).get_json()
    assert claims(token["access_token"])["aud"] == API_A


def _redirected_error(app: Flask, make_user, client_id: str, **params: str) -> dict[str, str]:
    flow = signed_in_flow(app, make_user, client_id)
    resp = flow.http.get(authorize_url(client_id, REDIRECT, flow.challenge, **params))
    assert resp.status_code == 302 and resp.headers["Location"].startswith(REDIRECT + "?"), resp.get_data(as_text=True)
    return query_of(resp.headers["Location"])


@pytest.mark.parametrize("resource", [
    "https://evil.example/api",  # not registered for the client
    API_A + "#section",  # a fragment (RFC 8707 §2)
    "/relative/path",  # not absolute
])
def test_a_resource_the_client_may_not_have_is_an_invalid_target_redirect(
        app: Flask, make_user, make_client, resource: str) -> None:
    params = _redirected_error(app, make_user, _client(make_client), resource=resource, state="s1")
    assert params["error"] == "invalid_target"
    assert params["state"] == "s1" and "iss" in params


def test_the_token_request_cannot_widen_the_resource(app: Flask, make_user, make_client) -> None:
    flow = signed_in_flow(app, make_user, _client(make_client))
    code = flow.code(resource=API_A)
    widened = flow.redeem(code, resource=API_B)
    assert widened.status_code == 400 and widened.get_json()["error"] == "invalid_target"
    fragment = flow.redeem(code, resource=API_A + "#x")
    assert fragment.get_json()["error"] == "invalid_target"
    # the refused requests did not spend the code
    assert claims(flow.redeem(code, resource=API_A).get_json()["access_token"])["aud"] == API_A


def test_a_refresh_may_narrow_the_audience_and_the_refresh_token_keeps_the_grant(
        app: Flask, make_user, make_client) -> None:
    """RFC 8707 §2.2 at the refresh: ``resource`` narrows one access token; a resource outside
    the grant is invalid_target and spends nothing; the new refresh token keeps the whole grant."""
    client_id = make_client(scope="reports:read", public=True, grant_types=["authorization_code", "refresh_token"],
                            redirect_uris=[REDIRECT], audiences=[API_A, API_B]).client_id
    flow = signed_in_flow(app, make_user, client_id)
    url = authorize_url(client_id, REDIRECT, flow.challenge) + f"&resource={API_A}&resource={API_B}"
    first = flow.redeem(query_of(consent(flow.http, url).headers["Location"])["code"]).get_json()
    assert sorted(claims(first["access_token"])["aud"]) == [API_A, API_B]

    def refresh(value: str, **form: str) -> Any:
        return app.test_client().post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": value,
                                                            "client_id": client_id, **form})

    widened = refresh(first["refresh_token"], resource="https://evil.example/api")
    assert widened.status_code == 400 and widened.get_json()["error"] == "invalid_target"
    narrowed = refresh(first["refresh_token"], resource=API_B).get_json()  # the refused request spent nothing
    assert claims(narrowed["access_token"])["aud"] == API_B
    again = refresh(narrowed["refresh_token"], resource=API_A).get_json()
    assert claims(again["access_token"])["aud"] == API_A
