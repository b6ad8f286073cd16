"""RFC 8414 authorization server metadata, derived from what the server has registered.

Grant types, response types, authentication methods and PKCE methods come from the grant
classes and endpoints on the ``AuthorizationServer``; endpoint URLs from the routes that serve
them (``url_for``) under the issuer. Registering a grant or an endpoint is enough to publish it.
With the authorization-code grant the document is also OpenID Connect Discovery's
(``discovery.py``), served at both well-known paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import url_for

from ..resources.catalogue import published_scopes
from . import authlib_internals
from .discovery import openid_provider_fields
from .names import ASSERTION_SIGNING_ALGS, AuthMethod, DynamicRegistration

if TYPE_CHECKING:
    from ..config import Settings
    from .server import AuthorizationServer

# The view serving each registered endpoint (Authlib's ENDPOINT_NAME); one without a route is
# not served, so it is not published.
ENDPOINT_VIEWS = {"introspection": "oauth.introspect", "revocation": "oauth.revoke"}


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def server_metadata(server: AuthorizationServer, settings: Settings) -> dict[str, Any]:
    """The metadata document; called in a request, so ``url_for`` finds the routes."""
    issuer = settings.issuer

    def url(view: str) -> str:
        return issuer + url_for(view, _external=False)

    token_grants = authlib_internals.token_grants(server)
    authorization_grants = authlib_internals.authorization_grants(server)
    fields: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": url("oauth.token"),
        "jwks_uri": url("oauth.jwks"),
        # Only what the catalogue publishes: every client's scopes would tell anyone what
        # the other clients may do.
        "scopes_supported": published_scopes(),
        "grant_types_supported": _unique(grant.GRANT_TYPE for grant in token_grants),
        "token_endpoint_auth_methods_supported": _unique(
            method for grant in token_grants for method in grant.TOKEN_ENDPOINT_AUTH_METHODS
        ),
        "response_types_supported": _unique(
            response_type for grant, _ in authorization_grants for response_type in sorted(grant.RESPONSE_TYPES)
        ),
        "access_token_signing_alg_values_supported": [settings.signing_alg],
    }
    if authorization_grants:
        fields.update(
            authorization_endpoint=url("authorize.authorize"),
            response_modes_supported=["query"],  # what Authlib's code grant redirects with
            code_challenge_methods_supported=_unique(
                method
                for _, extensions in authorization_grants
                for extension in extensions
                if isinstance(extension, CodeChallenge)
                for method in extension.SUPPORTED_CODE_CHALLENGE_METHOD
            ),
            authorization_response_iss_parameter_supported=server.names_issuer_in_responses,
        )
    if server.documents.enabled:
        fields["client_id_metadata_document_supported"] = True
    for name, endpoints in authlib_internals.endpoints(server).items():
        if name in ENDPOINT_VIEWS:
            fields[f"{name}_endpoint"] = url(ENDPOINT_VIEWS[name])
            fields[f"{name}_endpoint_auth_methods_supported"] = _unique(
                method for endpoint in endpoints for method in endpoint.CLIENT_AUTH_METHODS
            )
    for prefix in ("token", *ENDPOINT_VIEWS):
        if AuthMethod.PRIVATE_KEY_JWT in fields.get(f"{prefix}_endpoint_auth_methods_supported", ()):
            fields[f"{prefix}_endpoint_auth_signing_alg_values_supported"] = list(ASSERTION_SIGNING_ALGS)
    if settings.dynamic_registration != DynamicRegistration.OFF:
        fields["registration_endpoint"] = url("registration.register")
    metadata_type = AuthorizationServerMetadata
    if authorization_grants:
        fields.update(openid_provider_fields(issuer, fields["scopes_supported"]))
        metadata_type = OpenIDProviderMetadata
    metadata = metadata_type(fields)
    metadata.validate()
    return dict(metadata)
