"""resource_guard scenarios under gunicorn: the same endpoint unguarded and behind each backend
(Flask), and behind the DRF adapter, over HTTP; in-process, the guard's cost on a JWT cache hit
and miss against one raw ES256 check, and the DRF app's routes called directly."""

from __future__ import annotations

import base64
import functools
import json
import os
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt as pyjwt
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from authserver.people.passwords import hash_password, verify_password
from resource_guard.backends import BearerJWTBackend
from resource_guard.guard import Guard
from resource_guard.request import Headers, Request

from . import inprocess
from .config import BenchConfig
from .fixtures import AUDIENCE, PASSWORD, SCOPE, Fixtures, write_pool
from .load import Paired, Runner, fixed, measure_paired, pooled
from .oauth_scenarios import fetch_token
from .server import METADATA, Process, start_wsgi_app

DRF_APP = "bench.drf_app.wsgi:application"
DRF_ROUTES = ("/unguarded", "/noop", "/jwt")


def _get(app: Process, path: str, headers: dict[str, str], cfg: BenchConfig,
         connections: int | None = None) -> Runner:
    """wrk sending one request to a bench app over and over, settling on its ``/healthz``."""
    return fixed(app.url + path, "GET", "", headers, cfg, app.url + "/healthz", connections)


def _bearer(server: Process, fx: Fixtures) -> dict[str, str]:
    return {"Authorization": "Bearer " + fetch_token(server, fx.jwt_client)}


def http_overhead(
    server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path, rate_bound: int = 3000
) -> Paired:
    """Start the resource app beside the running authserver and load each route, interleaved
    with the unguarded one. Basic runs with one connection per worker: each request costs an
    argon2id verification, and a deeper queue would only stretch its latencies."""
    env = {**fx.resource_env, "BENCH_DATABASE_URL": fx.settings["database_url"],
           "BENCH_SECRET_KEY": fx.settings["secret_key"],
           "BENCH_RS_CLIENT_ID": fx.rs_client.client_id, "BENCH_RS_CLIENT_SECRET": fx.rs_client.client_secret}
    app = start_wsgi_app("bench.resource_app:create_app()", env, cfg.workers, cfg.threads, workdir)
    try:
        jwt, opaque = _bearer(server, fx), {"Authorization": "Bearer " + fetch_token(server, fx.opaque_client)}
        basic = base64.b64encode(f"{fx.username}:{PASSWORD}".encode()).decode()
        per_run = int(rate_bound * max(cfg.duration, cfg.warmup))
        pools = [write_pool(fx.mint(fx.jwt_client, per_run, store=False), workdir / f"jwt-{i}.txt")
                 for i in range(cfg.runs + 1)]
        # the same request bytes as the JWT runs: carrying the header is not the guard's cost
        return measure_paired(_get(app, "/unguarded", jwt, cfg), {
            "jwt_hit": _get(app, "/jwt", jwt, cfg),
            "jwt_miss": pooled(app.url + "/jwt", pools, "bearer", "", {}, cfg, app.url + "/healthz"),
            "introspection_hit": _get(app, "/introspection", opaque, cfg),
            "api_token": _get(app, "/api-token", {"Authorization": "token " + fx.api_token}, cfg),
            "basic": _get(app, "/basic", {"Authorization": "Basic " + basic}, cfg,
                          connections=max(cfg.workers * cfg.threads, cfg.wrk_threads)),
        }, cfg)
    finally:
        app.stop()


def drf_overhead(server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path) -> Paired:
    """The DRF app under the resource app's gunicorn settings: its no-op and guarded views (a
    JWT cache hit), each paired with the unguarded twin as the Flask rows are (same header)."""
    app = start_wsgi_app(DRF_APP, fx.resource_env, cfg.workers, cfg.threads, workdir)
    try:
        header = _bearer(server, fx)
        return measure_paired(_get(app, "/unguarded", header, cfg),
                              {"noop": _get(app, "/noop", header, cfg), "jwt": _get(app, "/jwt", header, cfg)}, cfg)
    finally:
        app.stop()


def drf_in_process(server: Process, fx: Fixtures, count: int = 200, repeats: int = 60) -> dict[str, float]:
    """Microseconds per request through the DRF app's whole WSGI stack, called in this process
    (no server, no socket): best of ``repeats`` short rounds of ``count`` calls, interleaved
    across ``DRF_ROUTES``, robust to a busy machine as the ASGI in-process figures are."""
    os.environ.update(fx.resource_env)
    from .drf_app.wsgi import application

    authorization = _bearer(server, fx)["Authorization"]
    requests_for = {path: functools.partial(inprocess.environ, "GET", path, authorization) for path in DRF_ROUTES}
    for request in requests_for.values():
        inprocess.timed_us(application, request, 50)  # fetch metadata and keys; warm the caches
    best = {path: float("inf") for path in DRF_ROUTES}
    for _ in range(repeats):
        for path, request in requests_for.items():
            best[path] = min(best[path], inprocess.timed_us(application, request, count))
    return best


@dataclass(frozen=True)
class InProcess:
    """Microseconds per call, best of several timeit repeats (in this process, one core)."""

    verify_cryptography: float
    verify_pyjwt: float
    guard_hit: float
    guard_miss: float
    argon2_verify: float


def _best_us(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def in_process(server: Process, fx: Fixtures, count: int = 2000) -> InProcess:
    """One raw ES256 verification (cryptography alone, and PyJWT's full decode) against the
    guard's ``check`` on a verified-token cache hit and on a miss (a fresh token per call),
    and the argon2id verification every Basic request pays."""
    token = fetch_token(server, fx.jwt_client)
    jwks_uri = requests.get(server.url + METADATA, timeout=10).json()["jwks_uri"]
    jwks = requests.get(jwks_uri, timeout=10).json()
    key = pyjwt.PyJWK(jwks["keys"][0]).key
    head, payload, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    signing_input = f"{head}.{payload}".encode()
    algorithm = ec.ECDSA(hashes.SHA256())
    assert json.loads(base64.urlsafe_b64decode(head + "=="))["alg"] == "ES256"

    guard = Guard([BearerJWTBackend(issuer=fx.issuer, audience=AUDIENCE)])
    requirement = guard.requirement([SCOPE])

    def check(value: str) -> None:
        result = guard.check(Request("GET", Headers({"Authorization": "Bearer " + value}), "/reports"), requirement)
        assert result.principal is not None, result.error

    check(token)  # fetch metadata and JWKS once
    password_hash = hash_password(PASSWORD)
    fresh = iter(fx.mint(fx.jwt_client, count * 5, store=False))
    return InProcess(
        verify_cryptography=_best_us(lambda: key.verify(der, signing_input, algorithm), count),
        verify_pyjwt=_best_us(lambda: pyjwt.decode(token, key, algorithms=["ES256"], audience=AUDIENCE), count),
        guard_hit=_best_us(lambda: check(token), count),
        guard_miss=_best_us(lambda: check(next(fresh)), count),
        argon2_verify=_best_us(lambda: verify_password(password_hash, PASSWORD), 3),
    )
