"""Where a token request's CPU goes: py-spy samples the workers of the live server, and of
the ceiling app, under the same wrk load; each sample is put in the category of its
innermost frame that has one, and the table shows worker CPU per request by category.

This is what the issuance ratio is made of: the HTTP server, Flask and the access log cost
the same in both, and the rest is what a token costs beyond parsing a form.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import spy
from .config import BenchConfig
from .fixtures import Credentials, Fixtures
from .load import wrk
from .oauth_scenarios import CEILING_APP, CEILING_CLIENT, FORM, ISSUANCE_BODY, basic, token_body_bytes
from .server import Process, start_app

RATE = 250  # py-spy samples per second per worker
SECONDS = 6  # one wrk run per target
# (label, path fragments); for each frame, innermost first, the first label that matches wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("database: SQLAlchemy, the driver, the token INSERT", ("sqlalchemy/", "sqlite3/", "psycopg/",
                                                           "authserver/database.py")),
    ("token signing: joserfc, cryptography", ("joserfc/", "cryptography/")),
    ("Authlib: request, client authentication, grant, response", ("authlib/",)),
    ("access log", ("logging/", "gunicorn/glogging.py", "granian/log.py", "authserver/logs.py")),
    ("authserver: checks, client cache, token claims", ("authserver/",)),
    ("ceiling view", ("bench/ceiling.py",)),
    ("Flask and Werkzeug", ("flask/", "werkzeug/", "itsdangerous/")),
    ("HTTP server, Python side (gunicorn: accept, parse, write, close; granian: WSGI glue)",
     ("gunicorn/", "granian/", "socket.py", "selectors.py")),
)
OTHER = "other"
# A sample of a thread with no Python frame: the server's native threads holding the
# interpreter (granian building a request's environ, handing over the response).
NO_FRAME = "HTTP server, native threads in the interpreter (samples without a Python frame)"
# Worker CPU that py-spy does not see as Python frames: granian's native HTTP layer, and the
# kernel's socket work done in system calls.
UNSAMPLED = "not in Python frames: native HTTP layer, kernel (worker CPU from /proc minus the samples)"
TICK = os.sysconf("SC_CLK_TCK")
_FILE = re.compile(r"\(([^()]*?):\d+\)$")


def category(stack: list[str]) -> str:
    if not stack:
        return NO_FRAME
    for frame in reversed(stack):
        m = _FILE.search(frame)
        path = m.group(1) if m else ""
        for label, fragments in CATEGORIES:
            if any(f in path for f in fragments):
                return label
    return OTHER


def sample_categories(collapsed: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[category([f for f in stack.split(";") if not f.startswith("process ")])] += int(count)
    return counts


@dataclass(frozen=True)
class Breakdown:
    """Worker CPU microseconds per request, by category, for each profiled target."""

    targets: dict[str, dict[str, float]]
    rps: dict[str, float]
    cpu: dict[str, float]  # the workers' user + system CPU µs per request, from /proc


def worker_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of the server's live worker processes (``pid``'s children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:  # a worker that exited meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def _profile(target: Process, path: str, client: Credentials, seconds: int, cfg: BenchConfig,
             out: Path) -> tuple[dict[str, float], float, float]:
    pid = target.process.pid
    sampler = spy.record(pid, seconds, out, rate=RATE)
    headers = [f"Authorization: {basic(client)}", f"Content-Type: {FORM}"]
    before = worker_cpu_seconds(pid)
    sample = wrk(target.url + path, "request.lua", ["POST", ISSUANCE_BODY, *headers],
                 seconds, cfg)
    cpu = worker_cpu_seconds(pid) - before
    sampler.wait()
    requests = max(sample.requests, 1)
    per_request = 1e6 / RATE / requests
    categories = {k: n * per_request for k, n in sample_categories(out).items()}
    cpu_us = cpu * 1e6 / requests
    unsampled = cpu_us - sum(categories.values())
    if unsampled > 0:
        categories[UNSAMPLED] = unsampled
    return categories, sample.rps, cpu_us


def issuance(server: Process, fx: Fixtures, cfg: BenchConfig, workdir: Path,
             seconds: int = SECONDS) -> Breakdown | None:
    """The ceiling app (answering a JWT-sized body), then JWT and opaque issuance."""
    if spy.py_spy() is None:
        return None
    size = token_body_bytes(server, fx.jwt_client)
    ceiling = start_app(CEILING_APP, {"BENCH_BODY_BYTES": str(size)}, cfg, workdir)
    targets: dict[str, dict[str, float]] = {}
    rps: dict[str, float] = {}
    cpu: dict[str, float] = {}
    try:
        targets["ceiling"], rps["ceiling"], cpu["ceiling"] = _profile(
            ceiling, "/token", CEILING_CLIENT, seconds, cfg, workdir / "ceiling.collapsed")
    finally:
        ceiling.stop()
    for label, client in (("JWT", fx.jwt_client), ("opaque", fx.opaque_client)):
        targets[label], rps[label], cpu[label] = _profile(
            server, "/oauth/token", client, seconds, cfg, workdir / f"issuance-{label}.collapsed")
    return Breakdown(targets, rps, cpu)
