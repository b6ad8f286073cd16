"""OpenID Connect Discovery 1.0 §3: what an OpenID Provider adds to RFC 8414 metadata.

The document at ``/.well-known/openid-configuration`` is the RFC 8414 one (``metadata.py``)
with these fields, and the RFC 8414 document carries them too, so a client reads the same
answer whichever it asks. They are added when the authorization-code grant is registered:
OpenID Connect runs on it alone. Every boolean is stated, because OpenID Connect's defaults
for omitted ones (``request_uri_parameter_supported``: true) would promise more than we do.
"""

from __future__ import annotations

from typing import Any

from .names import ID_TOKEN_ALGS, EndpointPath, OIDCScope

# Claims this provider may state: the ID token's (id_tokens.py) and UserInfo's by scope.
CLAIMS_SUPPORTED = [
    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "amr",
    "name", "preferred_username", "updated_at", "email", "email_verified",
]


def openid_provider_fields(issuer: str, published_scopes: list[str]) -> dict[str, Any]:
    """The OpenID Provider fields; ``scopes_supported`` is the OpenID Connect scopes, then the
    catalogue's published ones."""
    fields: dict[str, Any] = {
        "userinfo_endpoint": issuer + EndpointPath.USERINFO,
        "end_session_endpoint": issuer + EndpointPath.LOGOUT,
        "scopes_supported": list(dict.fromkeys([*OIDCScope, *published_scopes])),
        "subject_types_supported": ["public"],  # sub is user:<id> for every client
        "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGS),
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "frontchannel_logout_session_supported": False,
    }
    return fields
