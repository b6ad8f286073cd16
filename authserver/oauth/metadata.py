"""RFC 8414 authorization server metadata: everything a client or resource server needs."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from ..scope_catalogue import published_scopes
from .introspection import CLIENT_AUTH_METHODS

PATHS = {
    "authorization_endpoint": "/oauth/authorize",
    "token_endpoint": "/oauth/token",
    "introspection_endpoint": "/oauth/introspect",
    "revocation_endpoint": "/oauth/revoke",
    "jwks_uri": "/oauth/jwks",
}
GRANT_TYPES = ["authorization_code", "client_credentials", "refresh_token"]


def server_metadata(issuer: str, signing_alg: str) -> dict[str, Any]:
    metadata = AuthorizationServerMetadata(
        issuer=issuer,
        **{name: issuer + path for name, path in PATHS.items()},
        # Only what the catalogue publishes: every client's scopes would tell anyone what
        # the other clients may do.
        scopes_supported=published_scopes(),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=GRANT_TYPES,
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post", "none"],
        introspection_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        code_challenge_methods_supported=["S256"],
        authorization_response_iss_parameter_supported=True,
        access_token_signing_alg_values_supported=[signing_alg],
    )
    metadata.validate()
    return dict(metadata)
