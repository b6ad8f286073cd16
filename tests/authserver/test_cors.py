"""CORS: listed origins may call token, revocation, JWKS and metadata from a browser; nobody
else, nowhere else (pages, introspection), and nothing at all when no origin is listed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.config import ConfigError, load_settings

from .helpers import basic

SPA = "http://127.0.0.1:8002"
OTHER = "https://app.example"
STRANGER = "http://127.0.0.1:8003"  # same host as SPA, another port: another origin


@pytest.fixture
def cors_client(migrated_app: Flask, server_settings: dict[str, Any]) -> Iterator[FlaskClient]:
    from authserver import create_app

    app = create_app({**server_settings, "cors_allowed_origins": f"{SPA}, {OTHER}"})
    with app.app_context():
        yield app.test_client()


def cors_headers(resp: TestResponse) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def preflight(client: FlaskClient, path: str, origin: str, method: str) -> TestResponse:
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_token_success_and_error_are_readable_by_a_listed_origin(cors_client: FlaskClient, make_client) -> None:
    c = make_client()
    ok = cors_client.post("/oauth/token", data={"grant_type": "client_credentials"},
                          headers={**basic(*c.basic), "Origin": SPA})
    assert ok.status_code == 200 and ok.get_json()["access_token"]
    assert ok.headers["Access-Control-Allow-Origin"] == SPA
    assert "Origin" in ok.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in ok.headers

    wrong = cors_client.post("/oauth/token", data={"grant_type": "client_credentials"},
                             headers={**basic(c.client_id, "ascs_wrong"), "Origin": OTHER})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    assert wrong.headers["Access-Control-Allow-Origin"] == OTHER
    assert "WWW-Authenticate" in wrong.headers["Access-Control-Expose-Headers"]

    # refused before Authlib sees it (hygiene checks): still readable
    malformed = cors_client.post("/oauth/token", json={"grant_type": "client_credentials"}, headers={"Origin": SPA})
    assert malformed.status_code == 400 and malformed.get_json()["error"] == "invalid_request"
    assert malformed.headers["Access-Control-Allow-Origin"] == SPA


@pytest.mark.parametrize("path, method", [
    ("/oauth/token", "POST"), ("/oauth/revoke", "POST"), ("/oauth/register", "POST"),
    ("/oauth/jwks", "GET"), ("/.well-known/oauth-authorization-server", "GET"),
])
def test_preflight_for_a_listed_origin(cors_client: FlaskClient, path: str, method: str) -> None:
    resp = preflight(cors_client, path, SPA, method)
    assert resp.status_code == 204 and resp.data == b""
    assert cors_headers(resp) == {
        "Access-Control-Allow-Origin": SPA,
        "Access-Control-Allow-Methods": method,
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
    }
    assert "Origin" in resp.headers["Vary"]


def test_a_registration_can_be_managed_from_a_listed_origin(cors_client: FlaskClient) -> None:
    """RFC 7592's methods at the registration's own URL, for a browser-based client."""
    for method in ("GET", "PUT", "DELETE"):
        resp = preflight(cors_client, "/oauth/register/some-client", SPA, method)
        assert resp.status_code == 204 and resp.headers["Access-Control-Allow-Methods"] == "GET, PUT, DELETE"
    assert "Access-Control-Allow-Origin" not in preflight(cors_client, "/oauth/register/x", STRANGER, "PUT").headers


@pytest.mark.parametrize("path", ["/oauth/jwks", "/.well-known/oauth-authorization-server"])
def test_public_documents_are_readable_by_a_listed_origin(cors_client: FlaskClient, path: str) -> None:
    resp = cors_client.get(path, headers={"Origin": SPA})
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == SPA
    # cached publicly, so the answer must vary by Origin even for origins that get no CORS
    unlisted = cors_client.get(path, headers={"Origin": STRANGER})
    assert cors_headers(unlisted) == {} and "Origin" in unlisted.headers["Vary"]


def test_revocation_answers_a_listed_origin(cors_client: FlaskClient, make_client) -> None:
    c = make_client()
    resp = cors_client.post("/oauth/revoke", data={"token": "asat_unknown"}, headers={**basic(*c.basic), "Origin": SPA})
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == SPA


@pytest.mark.parametrize("origin", [
    STRANGER, "http://127.0.0.1:8002.evil.example", "https://127.0.0.1:8002", "http://127.0.0.1:8002/",
    "null", "HTTP://127.0.0.1:8002x", "*",
])
def test_an_unlisted_origin_gets_no_cors(cors_client: FlaskClient, make_client, origin: str) -> None:
    c = make_client()
    resp = cors_client.post("/oauth/token", data={"grant_type": "client_credentials"},
                            headers={**basic(*c.basic), "Origin": origin})
    assert resp.status_code == 200 and cors_headers(resp) == {}
    refused = preflight(cors_client, "/oauth/token", origin, "POST")
    assert refused.status_code != 204 and cors_headers(refused) == {}


def test_a_preflight_for_another_method_is_refused(cors_client: FlaskClient) -> None:
    resp = preflight(cors_client, "/oauth/token", SPA, "DELETE")
    assert resp.status_code != 204 and cors_headers(resp) == {}


@pytest.mark.parametrize("path", ["/oauth/authorize", "/login", "/account", "/", "/oauth/introspect"])
def test_pages_and_introspection_never_answer_other_origins(cors_client: FlaskClient, path: str) -> None:
    for method in ("GET", "POST"):
        assert cors_headers(preflight(cors_client, path, SPA, method)) == {}
    assert cors_headers(cors_client.get(path, headers={"Origin": SPA})) == {}
    assert cors_headers(cors_client.post(path, data={"token": "x"}, headers={"Origin": SPA})) == {}


def test_introspection_gets_no_cors_even_when_authenticated(cors_client: FlaskClient, make_client) -> None:
    c = make_client()
    resp = cors_client.post("/oauth/introspect", data={"token": "asat_unknown"},
                            headers={**basic(*c.basic), "Origin": SPA})
    assert resp.status_code == 200 and cors_headers(resp) == {}


def test_off_by_default(app: Flask, make_client) -> None:
    c = make_client()
    client = app.test_client()
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers={**basic(*c.basic), "Origin": SPA})
    assert resp.status_code == 200 and cors_headers(resp) == {}
    assert "Vary" not in client.get("/oauth/jwks", headers={"Origin": SPA}).headers
    assert preflight(client, "/oauth/token", SPA, "POST").status_code != 204


def test_origins_are_kept_as_browsers_send_them(tmp_path) -> None:
    def origins(value: str) -> frozenset[str]:
        return load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_SECRET_KEY": "s",
                                      "AUTHSERVER_CORS_ALLOWED_ORIGINS": value}).cors_allowed_origins
    assert origins("") == frozenset()
    assert origins(" HTTPS://App.Example:443,http://[::1]:8002  http://127.0.0.1:80 ") == {
        "https://app.example", "http://[::1]:8002", "http://127.0.0.1",
    }


@pytest.mark.parametrize("value, says", [
    ("*", "'*' is not allowed"),
    ("http://127.0.0.1:8002/", "no path"),
    ("https://app.example/spa", "no path"),
    ("https://app.example?x=1", "no path"),
    ("app.example", "scheme://host[:port]"),
    ("ftp://app.example", "scheme://host[:port]"),
    ("null", "scheme://host[:port]"),
    ("https://", "scheme://host[:port]"),
    ("http://127.0.0.1:99999", "port"),
    ("https://user:pw@app.example", "no user name"),
])
def test_bad_origins_are_refused_at_start_up(value: str, says: str, tmp_path) -> None:
    with pytest.raises(ConfigError, match="cors_allowed_origins") as err:
        load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_SECRET_KEY": "s",
                               "AUTHSERVER_CORS_ALLOWED_ORIGINS": f"https://ok.example {value}"})
    assert says in str(err.value)


def test_a_toml_list_is_taken_and_anything_else_refused_with_the_form_to_use(tmp_path) -> None:
    conf = tmp_path / "authserver.toml"
    env = {"AUTHSERVER_CONFIG": str(conf), "AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_SECRET_KEY": "s"}
    conf.write_text('cors_allowed_origins = ["https://A.example", "http://127.0.0.1:8002"]\n')
    assert load_settings(environ=env).cors_allowed_origins == {"https://a.example", "http://127.0.0.1:8002"}
    conf.write_text('cors_allowed_origins = {origin = "https://a.example"}\n')
    with pytest.raises(ConfigError, match='cors_allowed_origins must be a list of strings, or one string'):
        load_settings(environ=env)
