"""The one place that reads Authlib's private registries.

The metadata document (RFC 8414) is derived from what is registered: grant types, their
client authentication methods, response types, PKCE methods and endpoints. Authlib keeps
those in ``_token_grants``, ``_authorization_grants`` and ``_endpoints`` with no public
accessor, so they are read here and nowhere else; ``tests/authserver/test_authlib_internals.py``
fails loudly, naming the attribute, when an Authlib upgrade moves one.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import AuthorizationServer

PRIVATE_REGISTRIES = ("_token_grants", "_authorization_grants", "_endpoints")


def token_grants(server: AuthorizationServer) -> list[type[Any]]:
    """The grant classes registered for the token endpoint."""
    return [grant for grant, _ in server._token_grants]


def authorization_grants(server: AuthorizationServer) -> list[tuple[type[Any], list[Any]]]:
    """The grant classes registered for the authorization endpoint, with their extensions."""
    return [(grant, extensions or []) for grant, extensions in server._authorization_grants]


def endpoints(server: AuthorizationServer) -> dict[str, list[Any]]:
    """Registered endpoints (introspection, revocation, ...) by their ``ENDPOINT_NAME``."""
    return {name: list(found) for name, found in server._endpoints.items()}
