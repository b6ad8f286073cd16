"""``python -m bench.profile``: where the hot paths spend their time.

Two views, written to ``bench/profiles/``:
- ``live-*.txt``: py-spy sampling the real server's workers under wrk load (no in-process
  overhead, so the shares are true to production);
- ``*.txt``: pyinstrument call trees in-process (Flask's test client, no network), for the
  shape of each path. pyinstrument's hooks slow Python-heavy code several-fold against C calls
  (signing, SQLite), so read its times as proportions within Python, not as costs.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from pyinstrument import Profiler

from resource_guard.backends import BearerJWTBackend
from resource_guard.guard import Guard
from resource_guard.request import Headers, Request
from tests.databases import new_database

from . import spy
from .config import BenchConfig
from .fixtures import AUDIENCE, SCOPE, Credentials, Fixtures, prepare
from .load import wrk
from .oauth_scenarios import fetch_token
from .server import start_authserver

PROFILES = Path(__file__).resolve().parent / "profiles"
TREE_LINES = 120
FLAT_LINES = 40


def _strip_banner(text: str) -> list[str]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Profile at")), -1)
    return [line for line in lines[start + 1:] if line.strip()]


def _basic(c: Credentials) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{c.client_id}:{c.client_secret}".encode()).decode()}


def _profile(name: str, note: str, work: Callable[[], None], count: int) -> None:
    work()  # warm: imports, first-use caches, key loading
    profiler = Profiler(interval=0.001)
    profiler.start()
    for _ in range(count):
        work()
    session = profiler.stop()
    per_call = session.duration / count * 1e3
    flat = _strip_banner(profiler.output_text(flat=True, show_all=False))
    tree = _strip_banner(profiler.output_text(show_all=False))
    text = [f"# {name}: {count} calls, {per_call:.3f} ms per call under the profiler", f"# {note}", "",
            "## flat: self time by function", *flat[:FLAT_LINES], "", "## call tree", *tree[:TREE_LINES]]
    (PROFILES / f"{name}.txt").write_text("\n".join(text) + "\n")
    print(f"{name}: {per_call:.3f} ms per call -> bench/profiles/{name}.txt")


def _token_endpoint(fx: Fixtures, client: Credentials) -> Callable[[], None]:
    test = fx.app.test_client()
    headers = _basic(client)

    def call() -> None:
        r = test.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=headers)
        assert r.status_code == 200, r.data

    return call


def _introspect(fx: Fixtures, token: str) -> Callable[[], None]:
    test = fx.app.test_client()
    headers = _basic(fx.rs_client)

    def call() -> None:
        r = test.post("/oauth/introspect", data={"token": token}, headers=headers)
        assert r.status_code == 200 and r.json and r.json["active"], r.data

    return call


def live(fx: Fixtures, db: str, seconds: float, workdir: Path) -> None:
    """py-spy on ``authserver serve`` (2 sync workers) while wrk drives one endpoint."""
    if spy.py_spy() is None:
        print("py-spy not installed (pip install py-spy): skipping live profiles", file=sys.stderr)
        return
    cfg = BenchConfig(duration=seconds, warmup=0, runs=1)
    server = start_authserver(fx.settings, cfg.workers, cfg.threads, workdir)
    try:
        opaque = fetch_token(server, fx.opaque_client)
        scenarios = {
            "issuance-jwt": ("/oauth/token", "grant_type=client_credentials", fx.jwt_client),
            "issuance-opaque": ("/oauth/token", "grant_type=client_credentials", fx.opaque_client),
            "introspection-opaque": ("/oauth/introspect", urlencode({"token": opaque}), fx.rs_client),
        }
        for name, (path, body, client) in scenarios.items():
            out = workdir / f"{name}.collapsed"
            sampler = spy.record(server.process.pid, seconds, out)
            sample = wrk(server.url + path, "request.lua", ["POST", body, *(f"{k}: {v}" for k, v in {
                **_basic(client), "Content-Type": "application/x-www-form-urlencoded"}.items())], seconds, cfg)
            sampler.wait()
            head = [f"# live-{name}-{db}: py-spy --subprocesses on `authserver serve` ({cfg.server_label()}) "
                    f"under {cfg.wrk_label().split(' (')[0]}: {sample.rps:,.0f} req/s", ""]
            (PROFILES / f"live-{name}-{db}.txt").write_text("\n".join(head + spy.summarize(out)) + "\n")
            print(f"live-{name}-{db}: {sample.rps:,.0f} req/s -> bench/profiles/live-{name}-{db}.txt")
    finally:
        server.stop()


def run(db: str, count: int, workdir: Path, postgres_admin: str, live_seconds: float) -> None:
    PROFILES.mkdir(exist_ok=True)
    with new_database(db, workdir, postgres_admin, label="bench") as url:
        fx = prepare(url, workdir)
        if live_seconds > 0:
            live(fx, db, live_seconds, workdir)
        where = f"in-process test client on {db}"
        _profile(f"issuance-jwt-{db}", f"POST /oauth/token client_credentials, JWT; {where}",
                 _token_endpoint(fx, fx.jwt_client), count)
        _profile(f"issuance-opaque-{db}", f"POST /oauth/token client_credentials, opaque; {where}",
                 _token_endpoint(fx, fx.opaque_client), count)
        opaque, jwt = fx.mint(fx.opaque_client, 1, store=True)[0], fx.mint(fx.jwt_client, 1, store=True)[0]
        _profile(f"introspection-opaque-{db}", f"POST /oauth/introspect, opaque token; {where}",
                 _introspect(fx, opaque), count)
        _profile(f"introspection-jwt-{db}", f"POST /oauth/introspect, JWT; {where}", _introspect(fx, jwt), count)
        if db != "sqlite":
            return
        server = start_authserver(fx.settings, 1, 1, workdir)  # serves the JWKS the guard fetches once
        try:
            guard = Guard([BearerJWTBackend(issuer=fx.issuer, audience=AUDIENCE)])
            requirement = guard.requirement([SCOPE])
            token = fetch_token(server, fx.jwt_client)
            fresh = iter(fx.mint(fx.jwt_client, count * 4, store=False))

            def check(value: str) -> None:
                request = Request("GET", Headers({"Authorization": "Bearer " + value}), "/reports")
                assert guard.check(request, requirement).principal is not None

            _profile("guard-jwt-hit", "Guard.check, BearerJWTBackend, same token (verified-token cache hit)",
                     lambda: check(token), count * 20)
            _profile("guard-jwt-miss", "Guard.check, BearerJWTBackend, a fresh token per call (cache miss)",
                     lambda: check(next(fresh)), count)
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--count", type=int, default=2000, help="requests per scenario")
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default=BenchConfig.postgres_admin)
    p.add_argument("--live-seconds", type=float, default=10, help="py-spy duration per live scenario (0: skip)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="authserver-profile-") as tmp:
        for db in a.databases.split(","):
            run(db, a.count, Path(tmp), a.postgres, a.live_seconds)


if __name__ == "__main__":
    main()
