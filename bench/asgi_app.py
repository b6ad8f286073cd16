"""ASGI resource apps for the bench: the same tiny JSON endpoint unguarded and behind the FastAPI
and Starlette adapters (one Bearer JWT backend), in one process under uvicorn, and an event-loop
lag monitor read over HTTP.

Routes: ``/fastapi/unguarded``, ``/fastapi/jwt`` (``Security(guard)``) and ``/fastapi/noop`` (a
security dependency with the guard's signature that checks nothing: FastAPI's own cost for any);
``/starlette/unguarded`` (a plain Starlette app) and ``/starlette/jwt`` (a Starlette app with
``AuthenticationMiddleware(GuardBackend)`` and ``requires``), so each guarded route has an
unguarded twin on the same framework. ``GET /lag`` reports, and ``POST /lag`` restarts, the
overshoot of a 10 ms ``asyncio.sleep`` sampled continuously on this worker's loop.
"""

import asyncio
import os
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Security
from fastapi.openapi.models import HTTPBearer
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from resource_guard import Principal
from resource_guard.backends import BearerJWTBackend
from resource_guard.fastapi import FastAPIGuard
from resource_guard.starlette import GuardBackend, requires

SCOPE = "reports:read"
BODY = b'{"reports":[{"id":1,"title":"Quarterly"}]}'
TICK = 0.01


class LagMonitor:
    """Samples how late a 10 ms sleep wakes up: the time the loop was busy with something else."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(TICK)
            self.samples.append(loop.time() - started - TICK)

    def report(self) -> dict[str, float]:
        values = sorted(self.samples) or [0.0]

        def ms(quantile: float) -> float:
            return values[min(len(values) - 1, int(quantile * len(values)))] * 1e3

        return {"samples": len(self.samples), "p50_ms": ms(0.5), "p99_ms": ms(0.99), "max_ms": values[-1] * 1e3,
                "mean_ms": statistics.fmean(values) * 1e3}


class NoopSecurity(SecurityBase):
    """What FastAPI resolves for a ``Security`` dependency taking the request and its scopes,
    with no check inside: the dependency-injection cost any guard pays."""

    model = HTTPBearer()
    scheme_name = "noop"

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> None:
        return None


class Dispatcher:
    """Routes by path to the three apps (a string test or two, paid by guarded and unguarded
    routes alike); lifespan events go to the FastAPI app, which runs the lag monitor."""

    def __init__(self, fast: FastAPI, plain: Starlette, protected: Starlette) -> None:
        self.fast, self.plain, self.protected = fast, plain, protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan" or path.startswith("/fastapi/"):
            await self.fast(scope, receive, send)
        elif path == "/starlette/jwt":
            await self.protected(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


def _view() -> Response:
    return Response(BODY, media_type="application/json")


def create_app() -> Dispatcher:
    issuer, audience = os.environ["BENCH_ISSUER"], os.environ["BENCH_AUDIENCE"]
    monitor = LagMonitor()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(monitor.run())
        yield
        task.cancel()

    guard = FastAPIGuard([BearerJWTBackend(issuer=issuer, audience=audience)])
    fast = FastAPI(lifespan=lifespan, openapi_url=None)
    guard.init_app(fast)

    @fast.get("/fastapi/unguarded")
    async def fastapi_unguarded() -> Response:
        return _view()

    noop = NoopSecurity()

    @fast.get("/fastapi/noop")
    async def fastapi_noop(nothing: Annotated[None, Security(noop, scopes=[SCOPE])]) -> Response:
        return _view()

    @fast.get("/fastapi/jwt")
    async def fastapi_jwt(principal: Annotated[Principal, Security(guard, scopes=[SCOPE])]) -> Response:
        return _view()

    async def unguarded(request: Request) -> Response:
        return _view()

    @requires(scopes=[SCOPE])
    async def guarded(request: Request) -> Response:
        return _view()

    async def lag(request: Request) -> JSONResponse:
        if request.method == "POST":
            monitor.samples.clear()
        return JSONResponse(monitor.report())

    plain = Starlette(routes=[Route("/starlette/unguarded", unguarded), Route("/healthz", unguarded),
                              Route("/lag", lag, methods=["GET", "POST"])])
    backend = GuardBackend([BearerJWTBackend(issuer=issuer, audience=audience)])
    protected = Starlette(routes=[Route("/starlette/jwt", guarded)],
                          middleware=[Middleware(AuthenticationMiddleware, backend=backend)])
    return Dispatcher(fast, plain, protected)
