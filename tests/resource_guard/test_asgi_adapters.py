"""The Starlette and FastAPI adapters in process (real ASGI apps over httpx's ASGI transport,
a real HTTP issuer): what the end-to-end tests under uvicorn cannot see from outside."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from resource_guard import Principal, ProtectedResource
from resource_guard.asgi import request_from_scope
from resource_guard.backends import BearerJWTBackend
from resource_guard.fastapi import FastAPIGuard
from resource_guard.starlette import GuardBackend, requires
from tests.resource_guard.rg_testkit import AUDIENCE, FakeIssuer


def _get(app: Any, path: str, authorization: str | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.get(path, headers={"Authorization": authorization} if authorization else {})

    return asyncio.run(call())


def _starlette_app(issuer: FakeIssuer) -> Starlette:
    backend = GuardBackend([BearerJWTBackend(issuer.url, AUDIENCE)],
                           protected_resource=ProtectedResource(AUDIENCE, [issuer.url]))

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"authenticated": request.user.is_authenticated, "scopes": request.auth.scopes})

    @requires(scopes=["reports:read"])
    async def reports(request: Request) -> JSONResponse:
        return JSONResponse({"caller": request.user.principal.subject})

    return Starlette(routes=[*backend.routes, Route("/public", public), Route("/reports", reports)],
                     middleware=[Middleware(AuthenticationMiddleware, backend=backend)])


def test_starlette_scopes_and_principal_come_from_the_token(issuer: FakeIssuer) -> None:
    app = _starlette_app(issuer)
    token = issuer.sign({"scope": "reports:read profile"})
    assert _get(app, "/public", f"Bearer {token}").json() == {"authenticated": True,
                                                              "scopes": ["profile", "reports:read"]}
    assert _get(app, "/reports", f"Bearer {token}").json() == {"caller": "user-1"}


def test_starlette_refuses_at_the_protected_endpoint_only(issuer: FakeIssuer) -> None:
    """A bad token does not break endpoints that need none; ``requires`` answers it per RFC 6750
    where Starlette's own would answer a bare 403."""
    app = _starlette_app(issuer)
    assert _get(app, "/public", "Bearer a.b.c").json() == {"authenticated": False, "scopes": []}
    refused = _get(app, "/reports", "Bearer a.b.c")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    narrow = _get(app, "/reports", f"Bearer {issuer.sign({'scope': 'profile'})}")
    assert narrow.status_code == 403 and 'scope="reports:read"' in narrow.headers["WWW-Authenticate"]
    assert "resource_metadata=" in narrow.headers["WWW-Authenticate"]


def test_200_concurrent_cold_requests_through_the_adapter_fetch_the_keys_once(issuer: FakeIssuer) -> None:
    app = _starlette_app(issuer)
    tokens = [issuer.sign({"sub": f"user-{i}"}) for i in range(200)]

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await asyncio.gather(*(client.get("/reports", headers={"Authorization": f"Bearer {t}"})
                                          for t in tokens))

    responses = asyncio.run(main())
    assert [r.json()["caller"] for r in responses] == [f"user-{i}" for i in range(200)]
    assert issuer.hits["/jwks"] == 1 and issuer.hits["/.well-known/oauth-authorization-server"] == 1


def test_fastapi_without_init_app_still_sends_the_status_and_challenge(issuer: FakeIssuer) -> None:
    """FastAPI's own exception handler renders the refusal (under ``detail``): never a 500."""
    guard = FastAPIGuard([BearerJWTBackend(issuer.url, AUDIENCE)])
    app = FastAPI()

    @app.get("/reports")
    async def reports(principal: Principal = Security(guard, scopes=["reports:read"])) -> str:  # noqa: B008
        return principal.subject  # (a default, not Annotated: string annotations cannot name a local guard)

    refused = _get(app, "/reports", f"Bearer {issuer.sign({'scope': 'profile'})}")
    assert refused.status_code == 403 and refused.json()["detail"]["error"] == "insufficient_scope"
    assert 'scope="reports:read"' in refused.headers["WWW-Authenticate"]
    assert _get(app, "/reports", f"Bearer {issuer.sign()}").json() == "user-1"


def test_the_request_view_reads_the_scope_as_the_server_gave_it() -> None:
    scope = {"type": "http", "method": "POST", "path": "/items/7", "query_string": b"a=1&access_token=x",
             "headers": [(b"authorization", b"Bearer t"), (b"x-caf\xc3\xa9", b"caf\xc3\xa9")],
             "client": ("192.0.2.9", 5555)}
    view = request_from_scope(scope)
    assert (view.method, view.path, view.remote_addr, view.authorization) == ("POST", "/items/7", "192.0.2.9",
                                                                              "Bearer t")
    assert view.has_query_token() and view.headers.get("AUTHORIZATION") == "Bearer t"
    assert request_from_scope({"type": "http", "method": "GET", "headers": []}).remote_addr is None
