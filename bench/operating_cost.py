"""What operating features cost issuance: worker CPU time per client-credentials token request
under wrk, from ``authserver serve`` (granian, one worker by default, SQLite) with ``AUTHSERVER_METRICS``
on and off, in interleaved rounds; and, in process, what the audit trail adds to such a request
(its token row's remote address and request id, and the sink lookup), which has no off switch.

    .venv/bin/python -m bench.operating_cost [--seconds 10] [--rounds 5]

Worker CPU time (user + system, from ``/proc``) divided by the requests served is the cost
that decides how many requests a core serves; wall-clock throughput on a shared two-core
machine moves with whatever else runs, this much less so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import timeit
from base64 import b64encode
from pathlib import Path

from tests.databases import free_port

from .load import LUA, parse_wrk
from .server import Process, launch

TICKS = os.sysconf("SC_CLK_TCK")


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "authserver.cli", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _round(server: Process, basic: str, seconds: float) -> float:
    """µs of worker CPU per request over one wrk run."""
    pids = _workers(server.process.pid)
    before = _cpu_seconds(pids)
    done = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds:g}s", "--latency", "-s", str(LUA / "request.lua"),
         server.url + "/oauth/token", "--", "POST", "grant_type=client_credentials",
         f"Authorization: Basic {basic}", "Content-Type: application/x-www-form-urlencoded"],
        capture_output=True, text=True, check=True)
    sample = parse_wrk(done.stdout)
    assert sample.errors == 0, done.stdout
    return (_cpu_seconds(pids) - before) / sample.requests * 1e6


def audit_share_us() -> float:
    """What issuing one client-credentials token does for the audit trail, in a request."""
    from authserver import create_app
    from authserver.audit import request_origin, sink

    app = create_app({"database_url": "sqlite://", "secret_key": "k" * 43})
    with app.test_request_context("/oauth/token", method="POST", headers={"X-Request-ID": "bench"}):
        def once() -> None:
            request_origin()
            sink.current()

        rounds = 100_000
        return min(timeit.repeat(once, number=rounds, repeat=5)) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1,
                        help="1 by default: two SQLite writers wait on each other's lock, which blurs the figure")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-operating-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")},
           "AUTHSERVER_INSTANCE_PATH": str(folder), "AUTHSERVER_LOG_LEVEL": "WARNING"}
    _cli(env, "db", "upgrade")
    client = json.loads(_cli(env, "clients", "create", "--name", "bench", "--scope", "reports:read", "--json"))
    basic = b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    servers: dict[str, Process] = {}
    try:
        for mode in ("off", "on"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            servers[mode] = launch(
                [sys.executable, "-m", "authserver.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
                {**env, "AUTHSERVER_ISSUER": url, "AUTHSERVER_METRICS": mode}, url,
                "/.well-known/oauth-authorization-server", folder, f"metrics-{mode}")
        for server in servers.values():
            _round(server, basic, 2)  # warm: app loaded, client cached, connections pooled
        cost: dict[str, list[float]] = {"off": [], "on": []}
        for n in range(args.rounds):  # the order alternates, so a drift favours neither
            for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):
                cost[mode].append(_round(servers[mode], basic, args.seconds))
    finally:
        for server in servers.values():
            server.stop()
    off, on = statistics.median(cost["off"]), statistics.median(cost["on"])
    for mode, median in (("off", off), ("on", on)):
        runs = ", ".join(f"{c:.0f}" for c in cost[mode])
        print(f"worker CPU per token request, metrics {mode}: {median:.0f} µs (runs: {runs})")
    # Each round's ratio of its two runs, side by side in time, so drift between rounds cancels.
    paired = statistics.median(b / a for a, b in zip(cost["off"], cost["on"], strict=True))
    print(f"metrics add {paired - 1:+.1%} worker time a token request (median of the rounds' on/off ratios)")
    share = audit_share_us()
    print(f"the audit trail's part of a client-credentials request: {share:.2f} µs ({share / on:.2%} of it)")


if __name__ == "__main__":
    main()
