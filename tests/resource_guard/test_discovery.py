"""Metadata discovery as issuers publish it: RFC 8414's document, or only OpenID Connect's.

Google, Auth0 and Entra ID publish ``/.well-known/openid-configuration`` and nothing at RFC 8414's
path; a resource server configured with such an issuer alone must still find its keys and its
introspection endpoint (RFC 8414 §5), and must not double its requests while the server is down.
"""

from __future__ import annotations

import asyncio

import pytest

from resource_guard import Guard
from resource_guard.backends import BearerJWTBackend, IntrospectionBackend
from tests.resource_guard.rg_testkit import AUDIENCE, FakeIssuer, make_request

RFC8414 = "/.well-known/oauth-authorization-server"
OPENID = "/.well-known/openid-configuration"


@pytest.fixture
def openid_only(issuer: FakeIssuer) -> FakeIssuer:
    issuer.metadata_path = OPENID
    return issuer


def test_a_jwt_from_an_issuer_with_only_openid_configuration_is_accepted(openid_only: FakeIssuer) -> None:
    """The keys are found through OpenID Connect discovery, asked for once, and remembered there."""
    guard = Guard([BearerJWTBackend(issuer=openid_only.url, audience=AUDIENCE)])
    for _ in range(3):
        result = guard.authenticate(make_request(f"Bearer {openid_only.sign()}"))
        assert result.principal is not None and result.principal.subject == "user-1", result
    assert (openid_only.hits[RFC8414], openid_only.hits[OPENID]) == (1, 1)


def test_introspection_finds_its_endpoint_in_openid_configuration(openid_only: FakeIssuer) -> None:
    openid_only.introspection["opaque-1"] = {"active": True, "sub": "carol", "aud": AUDIENCE,
                                             "client_id": "client-1", "scope": "reports:read"}
    guard = Guard([IntrospectionBackend(openid_only.url, openid_only.client_id, openid_only.client_secret,
                                        audience=AUDIENCE)])
    result = guard.authenticate(make_request("Bearer opaque-1"))
    assert result.principal is not None and result.principal.subject == "carol", result
    assert openid_only.hits["/introspect"] == 1


def test_the_async_path_falls_back_too(openid_only: FakeIssuer) -> None:
    guard = Guard([BearerJWTBackend(issuer=openid_only.url, audience=AUDIENCE)])
    result = asyncio.run(guard.authenticate_async(make_request(f"Bearer {openid_only.sign()}")))
    assert result.principal is not None, result
    assert openid_only.hits[OPENID] == 1


def test_a_server_error_at_rfc8414s_path_is_not_retried_elsewhere(issuer: FakeIssuer) -> None:
    """A 5xx says the server is in trouble: one request, a 503 to the caller, no second probe."""
    issuer.metadata_status = 500
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE)])
    assert guard.authenticate(make_request(f"Bearer {issuer.sign()}")).status == 503
    assert (issuer.hits[RFC8414], issuer.hits[OPENID]) == (1, 0)


def test_an_issuer_with_neither_document_is_a_503_naming_both(issuer: FakeIssuer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    issuer.metadata_path = "/nowhere"
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE)])
    assert guard.authenticate(make_request(f"Bearer {issuer.sign()}")).status == 503
    assert (issuer.hits[RFC8414], issuer.hits[OPENID]) == (1, 1)
    assert RFC8414 in caplog.text and OPENID in caplog.text
