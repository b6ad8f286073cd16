"""RFC 8414 metadata follows what the AuthorizationServer has registered, not a written list."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import grants
from flask import Flask

from authserver import create_app
from authserver.appstate import state
from authserver.oauth import authlib_internals

METADATA = "/.well-known/oauth-authorization-server"


class DeviceCodeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """A stand-in for a grant a later issue adds: only its class attributes matter here."""

    GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["tls_client_auth"]


def _metadata(app: Flask) -> dict[str, Any]:
    body: dict[str, Any] = app.test_client().get(METADATA).get_json()
    return body


def test_metadata_lists_exactly_what_the_registered_grants_and_endpoints_support(app: Flask) -> None:
    server = state(app).server
    body = _metadata(app)
    token_grants = authlib_internals.token_grants(server)
    assert body["grant_types_supported"] == [g.GRANT_TYPE for g in token_grants]
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        m for g in token_grants for m in g.TOKEN_ENDPOINT_AUTH_METHODS
    }
    assert body["response_types_supported"] == [
        r for g, _ in authlib_internals.authorization_grants(server) for r in sorted(g.RESPONSE_TYPES)
    ]
    for name, endpoints in authlib_internals.endpoints(server).items():
        assert body[f"{name}_endpoint_auth_methods_supported"] == endpoints[0].CLIENT_AUTH_METHODS
    # Public clients use none at the token endpoint, never at introspection or revocation.
    assert "none" in body["token_endpoint_auth_methods_supported"]
    assert "none" not in body["introspection_endpoint_auth_methods_supported"]
    assert "none" not in body["revocation_endpoint_auth_methods_supported"]


def test_a_newly_registered_grant_appears_in_the_metadata(migrated_app: Flask,
                                                          server_settings: dict[str, Any]) -> None:
    """On the migrated test database: on its own, an xdist worker could run this first, before
    anything had migrated it ("no such table: scopes")."""
    app = create_app(server_settings)
    before = _metadata(app)
    assert DeviceCodeGrant.GRANT_TYPE not in before["grant_types_supported"]

    state(app).server.register_grant(DeviceCodeGrant)
    after = _metadata(app)
    assert after["grant_types_supported"] == [*before["grant_types_supported"], DeviceCodeGrant.GRANT_TYPE]
    assert after["token_endpoint_auth_methods_supported"] == [
        *before["token_endpoint_auth_methods_supported"], "tls_client_auth"
    ]
    # Nothing else moved: the endpoints are where the routes are.
    grown = ("grant_types_supported", "token_endpoint_auth_methods_supported")
    assert {k: v for k, v in after.items() if k not in grown} == {k: v for k, v in before.items() if k not in grown}


def test_endpoint_urls_are_the_routes_under_the_issuer(migrated_app: Flask, server_settings: dict[str, Any]) -> None:
    """The issuer may carry a path (RFC 8414 §3.1); every endpoint is the route below it."""
    app = create_app({**server_settings, "issuer": "https://login.example/tenant"})
    body = _metadata(app)
    assert body["issuer"] == "https://login.example/tenant"
    assert body["token_endpoint"] == "https://login.example/tenant/oauth/token"
    assert body["jwks_uri"] == "https://login.example/tenant/oauth/jwks"
    assert body["authorization_endpoint"] == "https://login.example/tenant/oauth/authorize"
