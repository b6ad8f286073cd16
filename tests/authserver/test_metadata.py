"""RFC 8414 metadata."""

from __future__ import annotations

from flask import Flask

from authserver.appstate import state


def test_metadata_advertises_every_endpoint_under_the_issuer(app: Flask, make_client) -> None:
    body = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    issuer = state(app).settings.issuer
    assert body["issuer"] == issuer
    for name, path in [("token_endpoint", "/oauth/token"), ("introspection_endpoint", "/oauth/introspect"),
                       ("revocation_endpoint", "/oauth/revoke"), ("jwks_uri", "/oauth/jwks"),
                       ("authorization_endpoint", "/oauth/authorize")]:
        assert body[name] == issuer + path
    assert set(body["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_response_iss_parameter_supported"] is True
    assert "client_secret_basic" in body["token_endpoint_auth_methods_supported"]
    assert isinstance(body["scopes_supported"], list)
    assert "password" not in body["grant_types_supported"] and "token" not in body["response_types_supported"]
