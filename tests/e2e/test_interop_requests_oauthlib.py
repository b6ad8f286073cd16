"""Interop: requests-oauthlib's ``OAuth2Session`` with ``pkce="S256"``, unchanged, runs the
authorization-code flow and the refresh against the real server."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError
from requests_oauthlib import OAuth2Session

from .authorize_flow import approve, query_of

pytestmark = pytest.mark.e2e

REDIRECT = "http://127.0.0.1:8765/callback"
SCOPE = ["reports:read", "reports:write"]


@pytest.fixture(autouse=True)
def plain_http_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """oauthlib insists on https unless told otherwise; the test server is loopback http."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _metadata(url: str) -> dict[str, Any]:
    return requests.get(url + "/.well-known/oauth-authorization-server", timeout=5).json()


def _introspect(url: str, rs, value: str) -> dict[str, Any]:
    return requests.post(url + "/oauth/introspect", data={"token": value}, auth=rs.basic, timeout=5).json()


def test_public_client_flow_and_refresh(live_server, make_client, make_user) -> None:
    meta = _metadata(live_server.url)
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    client = make_client(name="CLI tool", scope=" ".join(SCOPE), grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[REDIRECT], public=True)
    rs = make_client(name="Reports API", scope="", introspect_any=True)
    username, password = make_user()

    oauth = OAuth2Session(client.client_id, redirect_uri=REDIRECT, scope=SCOPE, pkce="S256")
    url, state = oauth.authorization_url(meta["authorization_endpoint"])
    assert "code_challenge_method=S256" in url
    redirected = approve(url, username, password)
    assert query_of(redirected)["state"] == state and query_of(redirected)["iss"] == meta["issuer"]

    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=redirected, include_client_id=True)
    assert token["token_type"] == "Bearer" and set(token["scope"]) == set(SCOPE)
    info = _introspect(live_server.url, rs, token["access_token"])
    assert info["active"] and info["username"] == username and info["client_id"] == client.client_id

    first_refresh = token["refresh_token"]
    refreshed = oauth.refresh_token(meta["token_endpoint"], client_id=client.client_id)
    assert refreshed["refresh_token"] != first_refresh
    assert _introspect(live_server.url, rs, refreshed["access_token"])["username"] == username
    assert _introspect(live_server.url, rs, first_refresh) == {"active": False}


def test_confidential_client_flow_and_refresh(live_server, make_client, make_user) -> None:
    meta = _metadata(live_server.url)
    client = make_client(name="Web portal", scope=" ".join(SCOPE), grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=["https://portal.example/oauth/callback"])
    username, password = make_user()

    oauth = OAuth2Session(client.client_id, redirect_uri="https://portal.example/oauth/callback",
                          scope=["reports:read"], pkce="S256")
    url, _ = oauth.authorization_url(meta["authorization_endpoint"])
    redirected = approve(url, username, password)
    token = oauth.fetch_token(
        meta["token_endpoint"], authorization_response=redirected, client_secret=client.client_secret
    )
    assert token["scope"] == ["reports:read"]
    refreshed = oauth.refresh_token(meta["token_endpoint"], auth=client.basic)
    assert refreshed["access_token"] != token["access_token"] and refreshed["scope"] == ["reports:read"]


def test_denied_authorization_reaches_the_library_as_access_denied(live_server, make_client, make_user) -> None:
    meta = _metadata(live_server.url)
    client = make_client(
        scope="reports:read", grant_types=["authorization_code"], redirect_uris=[REDIRECT], public=True
    )
    oauth = OAuth2Session(client.client_id, redirect_uri=REDIRECT, scope=["reports:read"], pkce="S256")
    url, _ = oauth.authorization_url(meta["authorization_endpoint"])
    username, password = make_user()
    redirected = approve(url, username, password, decision="deny")
    with pytest.raises(AccessDeniedError):
        oauth.fetch_token(meta["token_endpoint"], authorization_response=redirected, include_client_id=True)


def test_clients_and_users_made_with_the_command_line(live_server) -> None:
    """The README walkthrough: ``users create`` and ``clients create --public
    --grant-type authorization_code --grant-type refresh_token --redirect-uri ...``."""
    username = "cli-" + uuid.uuid4().hex[:8]
    made = live_server.cli("users", "create", username, "--password-stdin", "--json", input="a long passphrase\n")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["subject"].startswith("user:")
    created = live_server.cli(
        "clients", "create", "--name", "Notes app", "--public", "--scope", "reports:read",
        "--grant-type", "authorization_code", "--grant-type", "refresh_token", "--redirect-uri", REDIRECT,
        "--no-pkce", "--json",
    )
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    assert "client_secret" not in record and record["token_endpoint_auth_method"] == "none"
    assert record["redirect_uris"] == [REDIRECT] and record["require_pkce"] is True  # public: always PKCE

    meta = _metadata(live_server.url)
    oauth = OAuth2Session(record["client_id"], redirect_uri=REDIRECT, scope=["reports:read"], pkce="S256")
    url, _ = oauth.authorization_url(meta["authorization_endpoint"])
    token = oauth.fetch_token(
        meta["token_endpoint"],
        authorization_response=approve(url, username, "a long passphrase"),
        include_client_id=True,
    )
    refreshed = oauth.refresh_token(meta["token_endpoint"], client_id=record["client_id"])
    assert refreshed["access_token"] != token["access_token"]


def test_confidential_client_registered_without_pkce(live_server, make_user) -> None:
    created = live_server.cli(
        "clients", "create", "--name", "Legacy portal", "--scope", "reports:read", "--grant-type", "authorization_code",
        "--redirect-uri", "https://legacy.example/cb", "--no-pkce", "--json",
    )
    record = json.loads(created.stdout)
    assert record["require_pkce"] is False and record["client_secret"].startswith("ascs_")
    meta = _metadata(live_server.url)
    oauth = OAuth2Session(record["client_id"], redirect_uri="https://legacy.example/cb", scope=["reports:read"])
    url, _ = oauth.authorization_url(meta["authorization_endpoint"])
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=approve(url, *make_user()),
                              client_secret=record["client_secret"])
    assert token["scope"] == ["reports:read"] and "refresh_token" not in token
