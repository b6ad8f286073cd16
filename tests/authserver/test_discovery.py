"""OpenID Connect Discovery 1.0: the checks of the OpenID Foundation's Config OP plan
(provider configuration and its JWKS), as pytest cases."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from authserver import create_app
from authserver.appstate import state

DISCOVERY = "/.well-known/openid-configuration"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _discovery(app: Flask) -> dict[str, Any]:
    resp = app.test_client().get(DISCOVERY)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body: dict[str, Any] = resp.get_json()
    return body


def test_the_issuer_is_the_one_the_document_was_fetched_under(app: Flask) -> None:
    """Discovery §4.3: ``issuer`` is exactly the URL the configuration was fetched from,
    minus the well-known suffix; every token's ``iss`` is that value."""
    issuer = state(app).settings.issuer
    assert _discovery(app)["issuer"] == issuer


def test_every_endpoint_is_https_or_loopback(app: Flask) -> None:
    body = _discovery(app)
    urls = {k: v for k, v in body.items() if k.endswith("_endpoint") or k == "jwks_uri"}
    assert {"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
            "end_session_endpoint"} <= set(urls)
    for name, url in urls.items():
        parts = urlsplit(url)
        assert parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK), name
        assert url.startswith(body["issuer"] + "/"), name
    assert body["userinfo_endpoint"] == body["issuer"] + "/oauth/userinfo"
    assert body["end_session_endpoint"] == body["issuer"] + "/oauth/logout"


def test_the_required_provider_fields_are_there(app: Flask) -> None:
    body = _discovery(app)
    assert body["response_types_supported"] == ["code"]
    assert body["response_modes_supported"] == ["query"]
    assert "authorization_code" in body["grant_types_supported"]
    assert "refresh_token" in body["grant_types_supported"]
    assert body["subject_types_supported"] == ["public"]
    assert body["id_token_signing_alg_values_supported"] == ["RS256", "ES256", "EdDSA"]  # RS256 first
    methods = {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert set(body["token_endpoint_auth_methods_supported"]) == methods
    assert {"openid", "profile", "email", "offline_access"} <= set(body["scopes_supported"])
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr", "name",
            "preferred_username", "updated_at", "email", "email_verified"} <= set(body["claims_supported"])
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_response_iss_parameter_supported"] is True


def test_every_unsupported_feature_is_stated_not_left_to_defaults(app: Flask) -> None:
    """Omitted, ``request_uri_parameter_supported`` would mean true (Discovery §3)."""
    body = _discovery(app)
    for name in ("claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported",
                 "frontchannel_logout_supported", "frontchannel_logout_session_supported"):
        assert body[name] is False, name
    assert body["backchannel_logout_supported"] is True
    assert body["backchannel_logout_session_supported"] is True
    assert "registration_endpoint" not in body  # no registration endpoint is served


def test_the_jwks_uri_resolves_to_keys_with_kid_including_rs256(app: Flask) -> None:
    path = urlsplit(_discovery(app)["jwks_uri"]).path
    keys = app.test_client().get(path).get_json()["keys"]
    assert keys and all(k["kid"] and k["use"] == "sig" for k in keys)
    assert len({k["kid"] for k in keys}) == len(keys)
    assert "RS256" in {k["alg"] for k in keys}  # ID tokens verify from the first fetch on


def test_rfc8414_metadata_carries_the_same_fields(app: Flask) -> None:
    oauth = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert oauth == _discovery(app)


def test_an_issuer_with_a_path_prefixes_every_endpoint(migrated_app: Flask, server_settings: dict[str, Any]) -> None:
    """On the migrated test database (``migrated_app``), however xdist orders the tests."""
    app = create_app({**server_settings, "issuer": "https://login.example/tenant"})
    body = _discovery(app)
    assert body["issuer"] == "https://login.example/tenant"
    assert body["userinfo_endpoint"] == "https://login.example/tenant/oauth/userinfo"
    assert body["end_session_endpoint"] == "https://login.example/tenant/oauth/logout"
    assert body["jwks_uri"] == "https://login.example/tenant/oauth/jwks"
