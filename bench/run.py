"""``python -m bench.run``: start the real server, load it with wrk, write ``bench/results.md``.

``--quick`` is a one- to two-minute smoke run (short runs, one sample each, 100 thousand rows
instead of a million); the default is the full run whose medians the README quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import psycopg

from tests.databases import free_port, new_database

from . import asgi_scenarios, breakdown, guard_scenarios, node_peer, oauth_scenarios, peer_issuance, scale
from .config import BenchConfig
from .fixtures import Fixtures, prepare
from .load import Measure, Paired, measure
from .machine import describe
from .results import TAIL_TARGET, Report, Section, fmt_ms, fmt_tail
from .server import Process, start_authserver


def ratio(value: float, base: float) -> str:
    return f"{value / base:.0%}" if base else "?"


def overhead(paired_ratio: float) -> str:
    """A guarded route's note: what it lost against its unguarded twin, if anything."""
    return f"overhead {1 - paired_ratio:.0%}" if paired_ratio <= 1 else "within noise"


OVERHEAD_TARGET = "target ≤ 5 %"


def adapter_rows(s: Section, p: Paired, unguarded: str, guarded: str, noop: str = "", noop_note: str = "") -> None:
    """An adapter's wrk rows: its unguarded twin, the framework's no-op ("noop", if measured:
    what any authentication costs there) and the guard on a JWT cache hit ("jwt"), each the
    median ratio to the unguarded run just before it."""
    s.measure(unguarded, p.base, "100%")
    r = p.ratios["jwt"]
    note = overhead(r)
    if "noop" in p.routes:
        n = p.ratios["noop"]
        s.measure(noop, p.routes["noop"], f"{n:.0%}", f"{overhead(n)}, {noop_note}")
        note += f"; the guard's own share {1 - r / n:.0%}"
    s.measure(guarded, p.routes["jwt"], f"{r:.0%}", f"{note}; {OVERHEAD_TARGET}")


def in_process_rows(u: Section, labels: tuple[str, str, str], us: tuple[float, float, float], own: str) -> None:
    """In-process rows for unguarded, no-op and guarded routes: the guard's cost is over the no-op."""
    plain, noop, guarded = us
    u.row(labels[0], f"{plain:.1f}")
    u.row(labels[1], f"{noop:.1f}", "", f"{own}: {noop - plain:.1f} µs")
    u.row(labels[2], f"{guarded:.1f}", f"{guarded - noop:.1f}", f"vs the no-op; {guarded - plain:.1f} µs vs unguarded")


# ``--only`` choices that run adapter sections, and which.
ADAPTERS = {"adapters": ("flask", "drf", "asgi"), "drf": ("drf",), "asgi": ("asgi",)}


class Bench:
    """One run: the ceiling per body size, then each section, into one report."""

    def __init__(self, cfg: BenchConfig, workdir: Path) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.report = Report(describe(cfg.postgres_admin), [
            ("Server under test", f"`authserver serve --workers {cfg.workers} --threads {cfg.threads} "
                                  f"--server {cfg.server}`: {cfg.server_label()}, HTTP/1.1 keep-alive, access log "
                                  "on (as users run it)"),
            ("Ceiling app", f"under {cfg.server} with the flags `authserver serve` uses"),
            ("Resource apps", "gunicorn, with the flags `authserver serve --server gunicorn` uses"),
            ("Load", cfg.wrk_label() + "; generator on the same cores, over loopback"),
            ("Load average at start (1, 5, 15 min)", ", ".join(f"{x:.2f}" for x in os.getloadavg())),
        ])

    def issuance(self, section: Section, server: Process, fx: Fixtures, cfg: BenchConfig, db: str) -> None:
        for i in oauth_scenarios.issuance(server, fx, cfg, self.workdir):
            section.measure(f"ceiling: bare Flask, same form body, {i.body_bytes} B JSON", i.ceiling)
            section.measure(f"client_credentials issuance, {i.token_format} ({db})", i.issued,
                            ratio(i.issued.rps, i.ceiling.rps),
                            f"of ceiling; target ≥ 50%; p99/p50 {fmt_tail(i.issued)}")

    def authorization_server(self, db: str, server: Process, fx: Fixtures) -> None:
        cfg = self.cfg
        s = self.report.section(f"Authorization server on {db} ({cfg.server_label()})")
        self.issuance(s, server, fx, cfg, db)
        opaque, jwt = (oauth_scenarios.fetch_token(server, c) for c in (fx.opaque_client, fx.jwt_client))
        m = measure({
            "code": oauth_scenarios.authorization_code(server, fx, cfg),
            "opaque": oauth_scenarios.introspection(server, fx, opaque, cfg),
            "jwt": oauth_scenarios.introspection(server, fx, jwt, cfg),
            "revoke": oauth_scenarios.revocation(server, fx, cfg, self.workdir),
        }, cfg)
        code = m["code"]
        trips = statistics.median(x.extra.get("ROUND_TRIPS", 0) / cfg.duration for x in code.samples)
        s.row("authorization-code round trip (authorize, remembered consent → token)",
              f"{trips:,.0f} trips/s", fmt_ms(code.p50), fmt_ms(code.p99), "",
              f"{code.rps:,.0f} req/s; {code.extra('FAILURES')} failed trips")
        s.measure("introspection, opaque token", m["opaque"])
        s.measure("introspection, JWT (signature check + jti lookup)", m["jwt"])
        wrapped = m["revoke"].extra("POOL_WRAPPED")
        s.measure("revocation, a distinct live opaque token each request", m["revoke"], "",
                  f"pool wrapped {wrapped}×" if wrapped else "")
        s.notes.append("Latencies of the round trip are per request (authorize and token mixed); "
                       f"wrk drives it with {cfg.connections} threads of one connection each, "
                       "a Lua state machine alternating the two requests.")
        self.where_time_goes(db, server, fx)

    def where_time_goes(self, db: str, server: Process, fx: Fixtures) -> None:
        b = breakdown.issuance(server, fx, self.cfg, self.workdir)
        if b is None:
            print("bench: py-spy not installed; skipping the CPU breakdown", file=sys.stderr)
            return
        names = list(b.targets)
        s = self.report.section(f"Where a token request's CPU goes ({db}; worker µs per request, py-spy)",
                                ("Category", *(f"{n} µs" for n in names)))
        order = [label for label, _ in breakdown.CATEGORIES] + [breakdown.NO_FRAME, breakdown.OTHER,
                                                                  breakdown.UNSAMPLED]
        for label in order:
            if any(b.targets[n].get(label, 0) >= 0.5 for n in names):
                s.row(label, *(f"{b.targets[n].get(label, 0):.0f}" for n in names))
        s.row("**total**", *(f"**{sum(b.targets[n].values()):.0f}**" for n in names))
        s.row("worker CPU per request (user + system, /proc)", *(f"{b.cpu[n]:.0f}" for n in names))
        s.row("req/s while sampled", *(f"{b.rps[n]:,.0f}" for n in names))
        s.notes.append(f"py-spy --subprocesses at {breakdown.RATE} Hz on the {self.cfg.server} workers during one "
                       f"{breakdown.SECONDS} s wrk run each (it takes a little of the machine itself); a sample "
                       "counts for the innermost frame with a category, so JSON encoding called by Authlib is "
                       "Authlib's. Worker time only: wrk's share of the box is not in these columns; the "
                       "workers' own CPU (user and system, from /proc) beyond what the samples account for is "
                       "the last category. On a loaded machine a worker waiting for a core still shows in "
                       "the samples, so the total then exceeds the /proc row. A worker blocked in psycopg's "
                       "wait for PostgreSQL is not seen as idle, so on PostgreSQL the database row includes "
                       "the round trip and the server's WAL flush.")

    def guard(self, server: Process, fx: Fixtures) -> None:
        g = guard_scenarios.http_overhead(server, fx, self.cfg, self.workdir)
        s = self.report.section("resource_guard per request, vs the same endpoint unguarded "
                                f"({self.cfg.server_label()})")
        s.measure("unguarded Flask endpoint", g.base, "100%")
        labels = {"jwt_hit": "Bearer JWT, verified-token cache hit (same token)",
                  "jwt_miss": "Bearer JWT, cache miss (fresh token each request)",
                  "introspection_hit": "introspection, cache hit",
                  "api_token": "legacy API token (`token <t>`, database lookup)",
                  "basic": "HTTP Basic (argon2id verify per request)"}
        for key, label in labels.items():
            m, r = g.routes[key], g.ratios[key]
            note = overhead(r)
            if m.extra("POOL_WRAPPED"):
                note += f"; pool wrapped {m.extra('POOL_WRAPPED')}×"
            s.measure(label, m, f"{r:.0%}", note)
        s.notes.append("Ratio = median over the runs of guarded req/s ÷ the unguarded run just before it (each "
                       "route is paired with its own unguarded run, so machine drift between runs does not count "
                       "as overhead); the unguarded requests carry "
                       "the same Authorization header as the JWT runs, so the baseline reads the same bytes; the "
                       "authserver (SQLite) answers the JWKS, introspection and the stores' database on the same "
                       "machine.")
        s.notes.append(f"Basic runs with {max(self.cfg.workers * self.cfg.threads, self.cfg.wrk_threads)} "
                       "connections (one per worker): argon2id is the cost by design (see below).")
        p = guard_scenarios.in_process(server, fx)
        t = self.report.section("In-process, one core (µs per call, best of 5 × timeit)",
                                ("Operation", "µs", "× one ES256 verify", "Notes"))
        t.row("ES256 verify, cryptography alone", f"{p.verify_cryptography:.1f}", "1.00",
              "the floor for any JWT check")
        t.row("ES256 `jwt.decode`, PyJWT (verify + claims)", f"{p.verify_pyjwt:.1f}",
              f"{p.verify_pyjwt / p.verify_cryptography:.2f}")
        t.row("guard.check, JWT cache hit", f"{p.guard_hit:.1f}", f"{p.guard_hit / p.verify_cryptography:.2f}")
        t.row("guard.check, JWT cache miss (fresh token)", f"{p.guard_miss:.1f}",
              f"{p.guard_miss / p.verify_cryptography:.2f}", "target ≤ 1.5×")
        t.row("argon2id verify (authserver.people.passwords, argon2-cffi defaults)", f"{p.argon2_verify:,.0f}",
              f"{p.argon2_verify / p.verify_cryptography:,.0f}", "every Basic request pays this")

    def drf(self, server: Process, fx: Fixtures) -> None:
        """The Django REST framework adapter under the Flask rows' gunicorn settings."""
        g = guard_scenarios.drf_overhead(server, fx, self.cfg, self.workdir)
        s = self.report.section("resource_guard's DRF adapter per request, vs the same APIView unguarded "
                                f"({self.cfg.server_label()})")
        adapter_rows(s, g, "unguarded DRF `APIView`",
                     "DRF, `GuardAuthentication` + `TokenHasScope`, Bearer JWT, verified-token cache hit",
                     "DRF, no-op authentication + permission classes (its own cost)", "paid by any authentication")
        s.notes.append("Paired as the Flask rows are: each run right after an unguarded run, same request bytes "
                       "(the Authorization header included), same gunicorn flags. The app is `bench/drf_app/` "
                       "(examples/drf_project's settings, one Bearer JWT backend): the unguarded view sets "
                       "`authentication_classes = ()` and `AllowAny`; the no-op one has an authentication class "
                       "accepting every request and a permission granting it.")
        us = guard_scenarios.drf_in_process(server, fx)
        plain, nothing, guarded = (us[path] for path in guard_scenarios.DRF_ROUTES)
        u = self.report.section("DRF adapter in-process (µs per request through the whole WSGI stack, "
                                "best of 60 rounds)", ("Route", "µs", "guard's cost µs", "Notes"))
        in_process_rows(u, ("DRF, unguarded `APIView`", "DRF, no-op authentication + permission classes",
                            "DRF, `GuardAuthentication` + `TokenHasScope`, JWT cache hit"),
                        (plain, nothing, guarded), "DRF's own cost for any")
        u.notes.append("The Django app of the rows above called directly with a WSGI environ (no server, no "
                       "socket), routes interleaved, the best of 60 rounds of 200 requests: robust to a busy "
                       "machine, where the wrk ratios are not. Over HTTP, gunicorn's parsing, writing and "
                       "access log add their cost to every row alike.")

    def asgi(self, server: Process, fx: Fixtures) -> None:
        """The FastAPI and Starlette adapters under uvicorn, and the event loop under load."""
        pairs = asgi_scenarios.overhead(server, fx, self.cfg, self.workdir)
        s = self.report.section("resource_guard's ASGI adapters per request, vs the same endpoint unguarded "
                                "(uvicorn, one worker)")
        adapter_rows(s, pairs["fastapi"], "unguarded FastAPI endpoint", "FastAPI, Bearer JWT, verified-token cache hit",
                     "FastAPI, a no-op `Security` dependency (its own cost)", "paid by any dependency")
        adapter_rows(s, pairs["starlette"], "unguarded Starlette endpoint",
                     "Starlette, Bearer JWT, verified-token cache hit")
        s.notes.append("Paired as the Flask rows are: each guarded run right after its framework's unguarded "
                       "run, same request bytes (the Authorization header included). FastAPI: "
                       "`Security(FastAPIGuard, scopes=[...])`; Starlette: `AuthenticationMiddleware(GuardBackend)` "
                       "+ `resource_guard.starlette.requires`. The app is `bench/asgi_app.py`. One uvicorn worker: "
                       "with `--workers 2` its workers' shared socket gets no TCP_NODELAY, and every response "
                       "waits about 40 ms for a delayed ACK, guarded or not.")
        us = asgi_scenarios.in_process(server, fx)
        u = self.report.section("ASGI adapters in-process (µs per request through the whole ASGI stack, "
                                "best of 60 rounds)", ("Route", "µs", "guard's cost µs", "Notes"))
        in_process_rows(u, ("FastAPI, unguarded", "FastAPI, a no-op `Security` dependency",
                            "FastAPI, `Security(FastAPIGuard)`, JWT cache hit"),
                        (us["/fastapi/unguarded"], us["/fastapi/noop"], us["/fastapi/jwt"]),
                        "FastAPI's own cost for a dependency")
        u.row("Starlette, unguarded", f"{us['/starlette/unguarded']:.1f}")
        u.row("Starlette, `GuardBackend` + `requires`, JWT cache hit", f"{us['/starlette/jwt']:.1f}",
              f"{us['/starlette/jwt'] - us['/starlette/unguarded']:.1f}", "middleware included")
        u.notes.append("The app of the rows above called directly (no server, no socket), routes interleaved, the "
                       "best of 60 rounds of 200 requests: robust to a busy machine, where the wrk ratios above are "
                       "not. Over HTTP, uvicorn's own parsing and writing add their cost to every row alike.")
        loop = asgi_scenarios.event_loop(server, fx, self.cfg, self.workdir)
        b = loop.burst
        t = self.report.section("Event loop under load (uvicorn, one worker, started with cold caches)",
                                ("Phase", "lag p50 ms", "lag p99 ms", "lag max ms", "samples", "Notes"))
        for phase, lag in loop.lag.items():
            note = ""
            if phase == "cold burst":
                note = (f"{b.ok}/{asgi_scenarios.BURST} concurrent requests answered 200 in {b.seconds:.2f} s; "
                        f"JWKS fetches: {b.jwks_fetches}, metadata fetches: {b.metadata_fetches}")
            t.row(phase, f"{lag['p50_ms']:.2f}", f"{lag['p99_ms']:.2f}", f"{lag['max_ms']:.1f}",
                  f"{lag['samples']:,.0f}", note)
        t.notes.append("Lag = how late a 10 ms `asyncio.sleep` wakes, sampled continuously on the worker's loop "
                       "(`bench/asgi_app.py`): the time the loop spent on other work. Fetches are counted in the "
                       "authserver's access log. A fresh token costs one ES256 verification on the loop (CPU, "
                       "no I/O); fetches run on the async client and blocking stores on worker threads.")

    def settings_comparison(self, db: str, fx: Fixtures) -> None:
        threads = self.cfg.compare_threads
        cfg = replace(self.cfg, threads=threads)
        server = start_authserver(fx.settings, cfg.workers, threads, self.workdir, cfg.server)
        try:
            s = self.report.section(f"Server settings compared: `--threads {threads}` ({cfg.server_label()}, {db})")
            self.issuance(s, server, fx, cfg, db)
            s.notes.append(f"The app runs on {threads} threads per worker; the ceiling here runs under the same "
                           "settings.")
        finally:
            server.stop()

    def scale(self, sizes: tuple[int, ...]) -> None:
        s = self.report.section("Scale on PostgreSQL: introspection with many stored tokens, and purge",
                                ("Stored tokens", "req/s", "p50 ms", "p99 ms", "vs smallest", "seed (COPY)",
                                 "purge rows/s"))
        first: Measure | None = None
        for size in sizes:
            with new_database("postgresql", self.workdir, self.cfg.postgres_admin, label="bench") as url:
                fx = prepare(url, self.workdir)
                token = fx.mint(fx.opaque_client, 1, store=True)[0]
                seeded = scale.seed(fx, size)
                server = start_authserver(fx.settings, self.cfg.workers, self.cfg.threads, self.workdir,
                                          self.cfg.server)
                try:
                    m = measure({"introspect": oauth_scenarios.introspection(server, fx, token, self.cfg)},
                                self.cfg)["introspect"]
                finally:
                    server.stop()
                purged = scale.purge(fx)
            first = first or m
            s.row(f"{size:,}", f"{m.rps:,.0f}", fmt_ms(m.p50), fmt_ms(m.p99),
                  f"p50 {m.p50 / first.p50:.2f}×, p99 {m.p99 / first.p99:.2f}×",
                  f"{seeded.seconds:.1f} s", purged.describe())
        s.notes.append("Half of the seeded rows are expired; `authserver tokens purge` deletes them in "
                       "batches of 5,000. Its rows/s leaves out the command's start-up, measured by a "
                       "second, empty purge.")

    def peer(self, servers: dict[str, tuple[Process, Fixtures]]) -> None:
        """Issuance beside node-oidc-provider, with authserver on every database still up."""
        cfg = self.cfg
        try:
            peer = node_peer.start(cfg.workers, self.workdir)
        except node_peer.Unavailable as e:
            print(f"bench: {e}", file=sys.stderr)
            return
        try:
            results = peer_issuance.measure(peer, servers, replace(cfg, runs=cfg.peer_rounds))
        finally:
            peer.stop()
        s = self.report.section(f"Issuance beside {peer.label} ({cfg.workers} processes each)",
                                peer_issuance.HEADER)
        peer_issuance.write(s, peer, results, cfg.workers, cfg.server)
        s.notes.append(f"All servers stay up; each of {cfg.peer_rounds} rounds runs node-oidc-provider before "
                       "authserver on each database in turn. The ratio is the median over the rounds of "
                       "authserver's req/s ÷ the node-oidc-provider run just before it, so machine drift "
                       "between rounds cancels; req/s and latencies are medians of the runs.")
        s.notes.append("The same wrk script, connections, Basic header and body "
                       f"(`{oauth_scenarios.ISSUANCE_BODY}`) for both. node-oidc-provider: ES256 access tokens "
                       "(JWT through a resource indicator, or opaque), its in-memory adapter (nothing written to "
                       "a database), node's cluster module, HTTP keep-alive, no access log; authserver: "
                       f"{cfg.server_label()} with the access log, every token stored. p99/p50 target ≤ "
                       f"{TAIL_TARGET:g} (✗ marks a miss).")

    def adapters(self, server: Process, fx: Fixtures, names: tuple[str, ...]) -> None:
        """Each named adapter's sections: ``flask`` (every backend), ``drf``, ``asgi``."""
        sections = {"flask": self.guard, "drf": self.drf, "asgi": self.asgi}
        for name in names:
            sections[name](server, fx)

    def run(self) -> str:
        cfg = self.cfg
        with contextlib.ExitStack() as stack:
            servers: dict[str, tuple[Process, Fixtures]] = {}
            for db in cfg.databases:
                fx = prepare(stack.enter_context(new_database(db, self.workdir, cfg.postgres_admin, label="bench")),
                             self.workdir)
                server = start_authserver(fx.settings, cfg.workers, cfg.threads, self.workdir, cfg.server)
                stack.callback(server.stop)
                servers[db] = (server, fx)
            for db, (server, fx) in servers.items():
                if cfg.only == "issuance":
                    self.issuance(self.report.section(f"Issuance on {db} ({cfg.server_label()})"),
                                  server, fx, cfg, db)
                    continue
                if cfg.only == "breakdown":
                    self.where_time_goes(db, server, fx)
                    continue
                if cfg.only in ADAPTERS:
                    if db == cfg.databases[0]:
                        self.adapters(server, fx, ADAPTERS[cfg.only])
                    continue
                self.authorization_server(db, server, fx)
                if db == cfg.databases[0]:
                    self.adapters(server, fx, ADAPTERS["adapters"])
                    if cfg.compare_threads > 1 and cfg.compare_threads != cfg.threads:
                        self.settings_comparison(db, fx)
            if cfg.only in ("", "issuance"):
                peers = dict(servers)
                if cfg.compare_server:
                    for db, (_, fx) in servers.items():
                        settings = {**fx.settings, "issuer": f"http://127.0.0.1:{free_port()}"}
                        other = start_authserver(settings, cfg.workers, cfg.threads, self.workdir, cfg.compare_server)
                        stack.callback(other.stop)
                        peers[f"{db}, {cfg.compare_server}"] = (other, fx)
                self.peer(peers)
        if "postgresql" in cfg.databases and cfg.scale_sizes and not cfg.only:
            self.scale(cfg.scale_sizes)
        self.report.settings.append(("Load average at end", ", ".join(f"{x:.2f}" for x in os.getloadavg())))
        # A partial run prints its tables but leaves the full run's results.md alone.
        return self.report.markdown() if cfg.only else self.report.write()


def _postgres_available(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def parse_args(argv: list[str] | None) -> BenchConfig:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short runs, one sample each, 100k rows for scale")
    p.add_argument("--duration", type=float, help="seconds per timed run (default 5, quick 2)")
    p.add_argument("--runs", type=int, help="timed runs per figure; the table shows the median (default 3)")
    p.add_argument("--rounds", type=int, help="interleaved rounds beside node-oidc-provider (default 5, quick 2)")
    p.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                   help="authserver serve --server, and the ceiling app's server")
    p.add_argument("--compare-server", choices=("granian", "gunicorn"),
                   help="also run authserver under this server in the rounds beside node-oidc-provider")
    p.add_argument("--only", choices=("issuance", "breakdown", *ADAPTERS), default="",
                   help="issuance: only the issuance rows (ceiling, node-oidc-provider); breakdown: only the "
                        "table of where a token request's CPU goes; adapters: only "
                        "resource_guard's rows (Flask backends, DRF, Starlette/FastAPI and the event-loop lag); "
                        "drf or asgi: only that adapter's rows")
    p.add_argument("--connections", type=int, default=8, help="wrk connections")
    p.add_argument("--workers", type=int, default=2, help="worker processes (authserver serve --workers)")
    p.add_argument("--threads", type=int, default=1, help="threads per worker for the main table (1 = sync)")
    p.add_argument("--compare-threads", type=int, default=4,
                   help="also measure issuance with this many threads (0: skip)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    p.add_argument("--scale",
                   help="comma-separated stored-token counts (default 10000,1000000; quick 10000,100000; 0: skip)")
    p.add_argument("--postgres", default=BenchConfig.postgres_admin, help="PostgreSQL admin URL for fresh databases")
    a = p.parse_args(argv)
    quick = a.quick
    scale_sizes = a.scale or ("10000,100000" if quick else "10000,1000000")
    databases = tuple(d for d in a.databases.split(",") if d)
    if "postgresql" in databases and not _postgres_available(a.postgres):
        print(f"bench: PostgreSQL at {a.postgres} is not reachable; running SQLite only", file=sys.stderr)
        databases = tuple(d for d in databases if d != "postgresql")
    return BenchConfig(
        duration=a.duration or (2.0 if quick else 5.0),
        warmup=0.5 if quick else 1.0,
        runs=a.runs or (1 if quick else 3),
        peer_rounds=a.rounds or (2 if quick else 5),
        connections=a.connections,
        workers=a.workers,
        threads=a.threads,
        compare_threads=a.compare_threads,
        databases=databases,
        scale_sizes=tuple(int(n) for n in scale_sizes.split(",") if int(n) > 0),
        postgres_admin=a.postgres,
        server=a.server,
        compare_server=a.compare_server or "",
        only=a.only,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk, or `make bench`)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="authserver-bench-") as tmp:
        text = Bench(cfg, Path(tmp)).run()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
