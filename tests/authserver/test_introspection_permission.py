"""RFC 7662 §4: introspection answers only a client the token concerns.

Any other confidential client, however well authenticated, is told exactly
``{"active": false}``: it must not learn a token's subject, username, scope or audience.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from .authorize_helpers import REDIRECT, signed_in_flow
from .helpers import introspect, revoke, token

API = "https://api.example"


@pytest.fixture(params=["jwt", "opaque"])
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def user_tokens(app: Flask, make_user, make_client, fmt: str) -> dict[str, Any]:
    """A person's access and refresh tokens for ``API``, issued to a confidential web app."""
    web = make_client(name="Web app", scope="reports:read", grant_types=["authorization_code", "refresh_token"],
                      redirect_uris=[REDIRECT], audiences=[API], token_format=fmt)
    flow = signed_in_flow(app, make_user, web.client_id)
    resp = flow.redeem(flow.code(), auth=web.basic)
    assert resp.status_code == 200
    return {**resp.get_json(), "client": web}


def test_an_unrelated_client_learns_nothing(app: Flask, make_client, user_tokens: dict[str, Any]) -> None:
    stranger = make_client(name="Other team's service")
    for value in (user_tokens["access_token"], user_tokens["refresh_token"]):
        resp = introspect(app, stranger.basic, value)
        assert resp.status_code == 200 and resp.get_json() == {"active": False}


def test_a_resource_server_for_another_api_learns_nothing(app: Flask, make_client, user_tokens: dict[str, Any]) -> None:
    other_api = make_client(name="Billing API", resource_servers=["https://billing.example"])
    assert introspect(app, other_api.basic, user_tokens["access_token"]).get_json() == {"active": False}


def test_the_resource_server_for_the_audience_gets_the_answer(
    app: Flask, make_client, user_tokens: dict[str, Any]
) -> None:
    rs = make_client(name="Reports API", resource_servers=["https://other.example", API])
    body = introspect(app, rs.basic, user_tokens["access_token"]).get_json()
    assert body["active"] is True and body["aud"] == API and body["scope"] == "reports:read"
    assert body["sub"].startswith("user:") and body["username"].startswith("user-")
    # a refresh token never goes to a resource server, so its audience does not open it
    assert introspect(app, rs.basic, user_tokens["refresh_token"]).get_json() == {"active": False}


def test_a_client_allowed_to_introspect_any_token_gets_every_answer(
    app: Flask, make_client, user_tokens: dict[str, Any]
) -> None:
    gateway = make_client(name="Gateway", introspect_any=True)
    for value in (user_tokens["access_token"], user_tokens["refresh_token"]):
        assert introspect(app, gateway.basic, value).get_json()["active"] is True


def test_the_tokens_own_client_may_introspect_it(app: Flask, user_tokens: dict[str, Any]) -> None:
    own = user_tokens["client"].basic
    assert introspect(app, own, user_tokens["access_token"]).get_json()["active"] is True
    assert introspect(app, own, user_tokens["refresh_token"]).get_json()["active"] is True


def test_a_machine_token_without_audience_is_only_its_clients_business(app: Flask, make_client, fmt: str) -> None:
    owner = make_client(token_format=fmt)
    rs = make_client(resource_servers=[API])
    value = token(app, owner.basic).get_json()["access_token"]
    assert introspect(app, rs.basic, value).get_json() == {"active": False}
    assert introspect(app, owner.basic, value).get_json()["active"] is True


def test_revocation_never_touches_another_clients_token(app: Flask, make_client, user_tokens: dict[str, Any]) -> None:
    """Not even the resource server the token is for, nor one allowed to introspect it all:
    revoking is the token's own client's (or an administrator's) business (RFC 7009 §2.1).
    The answer is the one an unknown token gets, so it does not reveal that the token exists."""
    rs = make_client(resource_servers=[API])
    gateway = make_client(introspect_any=True)
    unknown = revoke(app, rs.basic, "asat_" + "A" * 36)
    for client in (rs, gateway, make_client()):
        for value in (user_tokens["access_token"], user_tokens["refresh_token"]):
            resp = revoke(app, client.basic, value)
            assert (resp.status_code, resp.get_data()) == (unknown.status_code, unknown.get_data())
    for value in (user_tokens["access_token"], user_tokens["refresh_token"]):
        assert introspect(app, gateway.basic, value).get_json()["active"] is True


def test_a_public_client_cannot_be_given_introspection(make_client) -> None:
    from authserver.clients.metadata import InvalidClientMetadata

    for permission in ({"resource_servers": [API]}, {"introspect_any": True}):
        with pytest.raises(InvalidClientMetadata, match="public client cannot introspect"):
            make_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT], public=True, **permission)
