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


def _environ(path: str, authorization: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:5000", "HTTP_AUTHORIZATION": authorization, "CONTENT_TYPE": FORM,
            "CONTENT_LENGTH": str(len(BODY)), "wsgi.input": io.BytesIO(BODY), "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http"}


def per_request_us(app: WSGIApp, path: str, client: Credentials, count: int) -> float:
    statuses: list[str] = []

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        statuses.append(status)

    authorization = basic(client)
    for _ in range(max(count // 10, 50)):
        b"".join(app(_environ(path, authorization), start_response))
    if not statuses[-1].startswith("200"):
        raise RuntimeError(f"{path} answered {statuses[-1]}")
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            b"".join(app(_environ(path, authorization), start_response))
        best = min(best, (time.perf_counter() - started) / count)
    return best * 1e6


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
