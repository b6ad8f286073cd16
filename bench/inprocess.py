"""``python -m bench.inprocess``: one token request's cost through the WSGI app, no server.

The app is called directly with a prepared environ (no gunicorn, no sockets, no load
generator), best of 5 loops, beside the ceiling app answering the same request: the quickest
way to see what a code change does to the token endpoint before a full ``make bench``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.databases import new_database

from . import ceiling
from .config import BenchConfig
from .fixtures import Credentials, prepare
from .oauth_scenarios import FORM, basic

BODY = b"grant_type=client_credentials"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(method: str, path: str, authorization: str, body: bytes = b"") -> dict[str, Any]:
    """A WSGI environ as gunicorn builds it for one request on 127.0.0.1:5000."""
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
           "HTTP_HOST": "127.0.0.1:5000", "HTTP_AUTHORIZATION": authorization, "wsgi.input": io.BytesIO(body),
           "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http"}
    if body:
        env |= {"CONTENT_TYPE": FORM, "CONTENT_LENGTH": str(len(body))}
    return env


def timed_us(app: WSGIApp, request: Callable[[], dict[str, Any]], count: int) -> float:
    """Microseconds per call over ``count`` calls of ``app`` on a fresh ``request()`` each;
    any answer but 200 stops the bench, since its cost would not be the one reported."""
    statuses: set[str] = set()

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        statuses.add(status)

    started = time.perf_counter()
    for _ in range(count):
        b"".join(app(request(), start_response))
    elapsed = time.perf_counter() - started
    if statuses != {"200 OK"}:
        raise RuntimeError(f"{request()['PATH_INFO']} answered {sorted(statuses)}")
    return elapsed / count * 1e6


def per_request_us(app: WSGIApp, path: str, client: Credentials, count: int) -> float:
    authorization = basic(client)

    def request() -> dict[str, Any]:
        return environ("POST", path, authorization, BODY)

    timed_us(app, request, max(count // 10, 50))
    return min(timed_us(app, request, count) for _ in range(5))


def run(db: str, count: int, workdir: Path, postgres_admin: str) -> None:
    with new_database(db, workdir, postgres_admin, label="bench") as url:
        fx = prepare(url, workdir)
        bare = ceiling.create_app()
        figures = {
            "ceiling (bare Flask)": per_request_us(bare.wsgi_app, "/token", fx.jwt_client, count * 3),
            "client_credentials, JWT": per_request_us(fx.app.wsgi_app, "/oauth/token", fx.jwt_client, count),
            "client_credentials, opaque": per_request_us(fx.app.wsgi_app, "/oauth/token", fx.opaque_client, count),
        }
        for label, us in figures.items():
            print(f"{db:10s} {label:28s} {us:8.1f} µs per request")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    p.add_argument("--count", type=int, default=1000, help="requests per timed loop")
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default=BenchConfig.postgres_admin)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="authserver-inprocess-") as tmp:
        for db in a.databases.split(","):
            run(db, a.count, Path(tmp), a.postgres)


if __name__ == "__main__":
    main()
