"""The ASGI adapters under uvicorn: each one's overhead on a JWT cache hit against its framework's
unguarded twin (the Flask rows' wrk pairing), the key-set fetches a cold burst of concurrent
requests causes, and how late the event loop runs while it serves them and wrk's load."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import requests

from .config import BenchConfig
from .fixtures import Fixtures, write_pool
from .load import Paired, fixed, measure_paired, pooled
from .oauth_scenarios import fetch_token
from .server import METADATA, Process, start_uvicorn_app

APP = "bench.asgi_app:create_app"
ADAPTERS = ("fastapi", "starlette")
BURST = 200


@dataclass(frozen=True)
class Burst:
    """``BURST`` concurrent requests with fresh tokens against a worker that has fetched nothing."""

    ok: int
    jwks_fetches: int
    metadata_fetches: int
    seconds: float


@dataclass(frozen=True)
class LoopFigures:
    burst: Burst
    lag: dict[str, dict[str, float]]  # phase -> the app's lag report (ms)


def overhead(server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path) -> dict[str, Paired]:
    """Each adapter's JWT cache hit paired with its unguarded twin, same request bytes, on one
    uvicorn worker: with ``--workers`` above 1, uvicorn's workers share a listening socket whose
    ``proto`` is 0, so asyncio never sets TCP_NODELAY on their connections and every response
    waits out a delayed ACK (about 44 ms p50 even for a bare ASGI app on this machine)."""
    app = start_uvicorn_app(APP, fx.resource_env, 1, workdir)
    try:
        header = {"Authorization": "Bearer " + fetch_token(server, fx.jwt_client)}
        ready = app.url + "/healthz"
        pairs = {}
        for adapter in ADAPTERS:
            names = ("noop", "jwt") if adapter == "fastapi" else ("jwt",)
            pairs[adapter] = measure_paired(
                fixed(f"{app.url}/{adapter}/unguarded", "GET", "", header, cfg, ready),
                {name: fixed(f"{app.url}/{adapter}/{name}", "GET", "", header, cfg, ready) for name in names}, cfg)
    finally:
        app.stop()
    return pairs


def _fetches(server: Process, path: str) -> int:
    """GETs of ``path`` the authserver has logged so far (its access log)."""
    return server.log_path.read_text(errors="replace").count(f'"GET {path}"')


async def _burst(url: str, tokens: list[str]) -> int:
    limits = httpx.Limits(max_connections=len(tokens))
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        answers = await asyncio.gather(*(client.get(url, headers={"Authorization": "Bearer " + t}) for t in tokens))
    return sum(a.status_code == 200 for a in answers)


def event_loop(server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path, rate_bound: int = 3000) -> LoopFigures:
    """One worker (one loop to watch), started cold: a burst of ``BURST`` concurrent requests
    with fresh tokens, then wrk on one token (cache hits), then wrk on fresh tokens (a
    signature check per request), each phase's loop lag read from the app afterwards."""
    jwks_path = requests.get(server.url + METADATA, timeout=10).json()["jwks_uri"].removeprefix(server.url)
    app = start_uvicorn_app(APP, fx.resource_env, 1, workdir)
    ready = app.url + "/healthz"

    def restart_lag() -> None:
        requests.post(app.url + "/lag", timeout=10)

    def read_lag() -> dict[str, float]:
        return dict(requests.get(app.url + "/lag", timeout=10).json())

    lag: dict[str, dict[str, float]] = {}
    try:
        before = (_fetches(server, jwks_path), _fetches(server, METADATA))
        tokens = fx.mint(fx.jwt_client, BURST, store=False)
        restart_lag()
        loop = asyncio.new_event_loop()
        started = loop.time()
        ok = loop.run_until_complete(_burst(app.url + "/fastapi/jwt", tokens))
        seconds = loop.time() - started
        loop.close()
        lag["cold burst"] = read_lag()
        burst = Burst(ok, _fetches(server, jwks_path) - before[0], _fetches(server, METADATA) - before[1], seconds)

        header = {"Authorization": "Bearer " + fetch_token(server, fx.jwt_client)}
        restart_lag()
        fixed(app.url + "/fastapi/jwt", "GET", "", header, cfg, ready)(cfg.duration)
        lag["wrk, cache hits"] = read_lag()

        pool = write_pool(fx.mint(fx.jwt_client, int(rate_bound * cfg.duration), store=False),
                          workdir / "asgi-lag-pool.txt")
        restart_lag()
        pooled(app.url + "/fastapi/jwt", [pool], "bearer", "", {}, cfg, ready)(cfg.duration)
        lag["wrk, fresh token each request"] = read_lag()
    finally:
        app.stop()
    return LoopFigures(burst, lag)


IN_PROCESS_ROUTES = ("/fastapi/unguarded", "/fastapi/noop", "/fastapi/jwt", "/starlette/unguarded", "/starlette/jwt")


def in_process(server: Process, fx: Fixtures, count: int = 200, repeats: int = 60) -> dict[str, float]:
    """Microseconds per request through each route's whole ASGI stack, called in this process
    (no server, no socket): best of ``repeats`` short rounds of ``count`` calls, interleaved
    across routes. A round lasts a few milliseconds, so on a busy machine some rounds run
    unpreempted, and the best of them is the code's cost, not a neighbour's."""
    from . import asgi_app

    os.environ.update(fx.resource_env)
    app = asgi_app.create_app()
    header = ("Bearer " + fetch_token(server, fx.jwt_client)).encode()

    async def timed(path: str, calls: int) -> float:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"bench"), (b"authorization", header)],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
        statuses: list[int] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))

        started = time.perf_counter()
        for _ in range(calls):
            await app(dict(scope), receive, send)
        elapsed = time.perf_counter() - started
        assert set(statuses) == {200}, (path, set(statuses))
        return elapsed / calls * 1e6

    async def rounds() -> dict[str, float]:
        best = {path: float("inf") for path in IN_PROCESS_ROUTES}
        for path in IN_PROCESS_ROUTES:
            await timed(path, 50)  # fetch metadata and keys; warm the caches
        for _ in range(repeats):
            for path in IN_PROCESS_ROUTES:
                best[path] = min(best[path], await timed(path, count))
        return best

    return asyncio.run(rounds())
