"""``GuardTokenVerifier`` (the mcp SDK's ``TokenVerifier``) against a real HTTP issuer, and the
SDK's own HTTP answers in front of it: only tokens issued for this MCP server pass, whatever the
backends' audience setting; refusals are 401s naming the metadata, missing scopes a 403 naming them."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer

from resource_guard import Guard
from resource_guard.backends import ANY_AUDIENCE, BearerJWTBackend, IntrospectionBackend
from resource_guard.mcp import GuardTokenVerifier, StepUpChallenge
from tests.resource_guard.rg_testkit import AUDIENCE, FakeIssuer, SigningKey, make_request

MCP_URL = "https://mcp.example/mcp"
METADATA = 'resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp"'


def _verifier(issuer: FakeIssuer, audience: object = MCP_URL) -> GuardTokenVerifier:
    backends = [BearerJWTBackend(issuer=issuer.url, audience=audience),  # type: ignore[arg-type]
                IntrospectionBackend(issuer.url, issuer.client_id, issuer.client_secret,
                                     audience=audience)]  # type: ignore[arg-type]
    return GuardTokenVerifier(backends, resource=MCP_URL, required_scopes=["reports:read"])


def _verify(verifier: GuardTokenVerifier, token: str) -> AccessToken | None:
    return asyncio.run(verifier.verify_token(token))


def test_a_token_for_this_server_maps_to_the_sdk_access_token(issuer: FakeIssuer) -> None:
    exp = int(time.time()) + 120
    token = issuer.sign({"aud": MCP_URL, "sub": "alice", "client_id": "agent-1", "exp": exp,
                         "scope": "reports:read profile"})
    access = _verify(_verifier(issuer), token)
    assert access is not None
    assert (access.token, access.client_id, access.subject) == (token, "agent-1", "alice")
    assert access.scopes == ["profile", "reports:read"]
    assert access.expires_at == exp and access.resource == MCP_URL
    assert access.claims is not None and access.claims["iss"] == issuer.url  # the SDK binds sessions to it


def test_a_token_for_another_audience_is_refused(issuer: FakeIssuer) -> None:
    for aud in (AUDIENCE, [AUDIENCE, "https://mcp.example/other"], "https://mcp.example"):
        assert _verify(_verifier(issuer), issuer.sign({"aud": aud})) is None, aud
    assert _verify(_verifier(issuer), issuer.sign({"aud": [AUDIENCE, MCP_URL]})) is not None


def test_the_audience_is_checked_even_when_the_backends_accept_any(issuer: FakeIssuer) -> None:
    verifier = _verifier(issuer, audience=ANY_AUDIENCE)
    other = make_request(f"Bearer {issuer.sign({'aud': AUDIENCE})}")
    assert asyncio.run(verifier.guard.authenticate_async(other)).principal is not None  # the chain alone passes it
    assert _verify(verifier, issuer.sign({"aud": AUDIENCE})) is None
    assert _verify(verifier, issuer.sign({"aud": MCP_URL})) is not None
    issuer.introspection["opaque-other"] = {"active": True, "sub": "bob", "client_id": "c", "aud": AUDIENCE,
                                            "scope": "reports:read", "exp": int(time.time()) + 60}
    assert _verify(verifier, "opaque-other") is None


def test_expired_forged_and_malformed_tokens_are_refused(issuer: FakeIssuer) -> None:
    verifier = _verifier(issuer)
    stranger = SigningKey.generate(kid=issuer.keys[0].kid)
    attacks = {
        "expired": issuer.sign({"aud": MCP_URL, "exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}),
        "forged": issuer.sign({"aud": MCP_URL}, key=stranger),
        "other issuer": issuer.sign({"aud": MCP_URL, "iss": "https://evil.example"}),
        "garbage": "not-a-token",
        "two words": f"{issuer.sign({'aud': MCP_URL})} extra",
        "empty": "",
    }
    for name, token in attacks.items():
        assert _verify(verifier, token) is None, name


def test_an_opaque_token_is_introspected_and_checked_for_the_audience(issuer: FakeIssuer) -> None:
    exp = int(time.time()) + 60
    issuer.introspection["opaque-1"] = {"active": True, "sub": "carol", "client_id": "agent-2", "aud": MCP_URL,
                                        "scope": "reports:read", "exp": exp}
    issuer.introspection["opaque-off"] = {"active": False}
    verifier = _verifier(issuer)
    access = _verify(verifier, "opaque-1")
    assert access is not None and (access.client_id, access.subject, access.scopes) == ("agent-2", "carol",
                                                                                         ["reports:read"])
    assert access.expires_at == exp and access.resource == MCP_URL
    assert _verify(verifier, "opaque-off") is None
    assert issuer.seen_auth  # the resource server authenticated itself to the introspection endpoint


def test_auth_settings_name_the_issuer_resource_and_scopes(issuer: FakeIssuer) -> None:
    settings = _verifier(issuer).auth_settings(issuer.url)
    assert str(settings.issuer_url).rstrip("/") == issuer.url
    assert str(settings.resource_server_url) == MCP_URL
    assert settings.required_scopes == ["reports:read"] and settings.validate_token_resource is True


def test_the_sdk_answers_401_with_metadata_and_403_with_the_needed_scope(issuer: FakeIssuer) -> None:
    """The SDK's bearer middleware with this verifier, behind StepUpChallenge, in process."""
    verifier = _verifier(issuer)
    server = MCPServer("reports", token_verifier=verifier, auth=verifier.auth_settings(issuer.url))
    app = StepUpChallenge(server.streamable_http_app(host="mcp.example"), verifier.required_scopes)

    async def post(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://mcp.example") as c:
            return await c.post("/mcp", headers=headers, json={})

    for token in (None, issuer.sign({"aud": AUDIENCE}), issuer.sign({"aud": MCP_URL}, key=SigningKey.generate())):
        refused = asyncio.run(post(token))
        challenge = refused.headers["WWW-Authenticate"]
        assert refused.status_code == 401 and METADATA in challenge and 'scope="reports:read"' in challenge
    weak = asyncio.run(post(issuer.sign({"aud": MCP_URL, "scope": "profile"})))
    challenge = weak.headers["WWW-Authenticate"]
    assert weak.status_code == 403 and 'error="insufficient_scope"' in challenge
    assert 'scope="reports:read"' in challenge and METADATA in challenge
    metadata = asyncio.run(_get(app, "/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["resource"] == MCP_URL and metadata["authorization_servers"] == [issuer.url]


async def _get(app: StepUpChallenge, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://mcp.example") as c:
        return await c.get(path)


def test_a_verifier_needs_an_absolute_resource_and_a_scope_list(issuer: FakeIssuer) -> None:
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=MCP_URL)])
    for bad in ("/mcp", "mcp.example", "https://mcp.example/mcp#frag"):
        with pytest.raises(ValueError, match="absolute"):
            GuardTokenVerifier(guard, resource=bad)
    with pytest.raises(TypeError, match="list of scope names"):
        GuardTokenVerifier(guard, resource=MCP_URL, required_scopes="reports:read")
