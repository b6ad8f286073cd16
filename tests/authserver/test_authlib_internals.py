"""The Authlib private attributes ``authlib_internals`` reads are still where it reads them.

An Authlib upgrade that renames or reshapes one would make the metadata document quietly
wrong (no grant types, no endpoints); this fails first, naming the attribute.
"""

from __future__ import annotations

import pytest
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Flask

from authserver.appstate import state
from authserver.oauth import authlib_internals
from authserver.oauth.authorization_code import AuthorizationCodeGrant
from authserver.oauth.names import GrantType


@pytest.mark.parametrize("name", authlib_internals.PRIVATE_REGISTRIES)
def test_authlib_still_keeps_its_registry_under_this_name(name: str) -> None:
    assert hasattr(FlaskAuthorizationServer(), name), f"Authlib no longer has AuthorizationServer.{name}"


def test_the_readers_see_what_a_fresh_server_registers() -> None:
    """Registered on a bare Authlib server, read back through the module: the shapes hold."""
    server = FlaskAuthorizationServer()
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_grant(grants.AuthorizationCodeGrant, [])
    server.register_endpoint(RevocationEndpoint)
    assert authlib_internals.token_grants(server) == [grants.ClientCredentialsGrant, grants.AuthorizationCodeGrant]
    assert authlib_internals.authorization_grants(server) == [(grants.AuthorizationCodeGrant, [])]
    assert list(authlib_internals.endpoints(server)) == ["revocation"]


def test_this_servers_grants_and_endpoints_are_read(app: Flask) -> None:
    server = state(app).server
    assert {g.GRANT_TYPE for g in authlib_internals.token_grants(server)} >= {
        GrantType.CLIENT_CREDENTIALS, GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN}
    assert any(g is AuthorizationCodeGrant for g, _ in authlib_internals.authorization_grants(server))
    assert {"introspection", "revocation"} <= set(authlib_internals.endpoints(server))
