"""Introspection on PostgreSQL with many stored tokens, and ``authserver tokens purge``.

``python -m bench.scale [--rows 1M 10M 100M]`` measures issuance, introspection of a random
live token, and the purge of one day's expired tokens, at each size, on a throwaway
database whose rows are made by ``generate_series`` (not through the API), spread over the
17 days of day partitions from yesterday on.

Rows are seeded with COPY and look like the server's own: access tokens with a ``jti`` (and a
keyed hash when opaque), refresh tokens by hash, half of them expired so purge has work.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

from authserver.secrets import SecretHasher

from .fixtures import AUDIENCE, SCOPE, Fixtures
from .server import ROOT, authserver_env

COLUMNS = ("kind", "token_hash", "jti", "family_id", "client_pk", "user_id", "scope", "audience",
           "token_format", "issued_at", "expires_at")


@dataclass(frozen=True)
class Seeded:
    rows: int
    seconds: float


@dataclass(frozen=True)
class Purged:
    rows: int
    seconds: float
    startup_seconds: float

    def describe(self) -> str:
        """Rows/s net of the command's start-up when the deleting took longer than that
        start-up's own noise; otherwise the gross figure, labelled so."""
        net = self.seconds - self.startup_seconds
        if net > 0.5 * self.seconds:
            return f"{self.rows / net:,.0f} ({self.rows:,} rows in {net:.1f} s)"
        return f"≥ {self.rows / self.seconds:,.0f} gross ({self.rows:,} rows; start-up dominates)"


def _psycopg_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def seed(fx: Fixtures, count: int) -> Seeded:
    """COPY ``count`` token rows of the bench's opaque client, then ANALYZE."""
    hasher = SecretHasher(fx.settings["secret_key"])
    now = datetime.now(UTC)
    audience = json.dumps([AUDIENCE])
    started = time.perf_counter()
    with psycopg.connect(_psycopg_url(fx.settings["database_url"])) as conn:
        client_pk = conn.execute("SELECT id FROM clients WHERE client_id = %s",
                                 (fx.opaque_client.client_id,)).fetchone()[0]  # type: ignore[index]
        with conn.cursor().copy(f"COPY tokens ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i in range(count):
                expires = now + timedelta(seconds=60 + i % 3600) if i % 2 else now - timedelta(seconds=1 + i % 3600)
                issued = expires - timedelta(hours=1)
                kind, fmt = ("refresh", "opaque") if i % 5 == 0 else ("access", "jwt" if i % 3 else "opaque")
                token_hash = hasher.hash(secrets.token_urlsafe(30)) if fmt == "opaque" else None
                jti = uuid.uuid4().hex if kind == "access" else None
                copy.write_row((kind, token_hash, jti, None, client_pk, None, SCOPE, audience, fmt, issued, expires))
        conn.execute("ANALYZE tokens")
    return Seeded(count, time.perf_counter() - started)


def _purge_once(fx: Fixtures) -> tuple[int, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "authserver.cli", "tokens", "purge", "--json"], cwd=ROOT,
                          env=authserver_env(fx.settings), capture_output=True, text=True, check=True)
    return int(json.loads(done.stdout)["tokens_deleted"]), time.perf_counter() - started


def purge(fx: Fixtures) -> Purged:
    """Run ``authserver tokens purge`` as an operator would; a second, empty purge measures
    the command's own start-up, which the rows/s figure leaves out."""
    rows, seconds = _purge_once(fx)
    _, startup = _purge_once(fx)
    return Purged(rows, seconds, startup)


# ``python -m bench.scale``: the same three operations at 1, 10 and 100 million rows.
DAYS = 17  # yesterday (the day a purge drops) and the 16 days that tokens of the default lifetimes end on
SEED_CHUNK = 1_000_000


@dataclass(frozen=True)
class AtScale:
    rows: int
    issue_ms: float
    introspect_ms: float
    purge_s: float
    dropped: int
    table_bytes: int


def _median_ms(call: Callable[[], object], count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _seed_days(url: str, client_pk: int, count: int) -> None:
    """``count`` opaque token rows spread evenly over ``DAYS`` days from yesterday, made by
    ``generate_series`` inside PostgreSQL, a million per transaction."""
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), datetime.min.time(), UTC)
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        for first in range(0, count, SEED_CHUNK):
            conn.execute(
                "INSERT INTO tokens (kind, token_hash, client_pk, scope, audience, token_format, issued_at, "
                "expires_at) "
                "SELECT 'access', encode(sha256(int8send(g)), 'hex'), %(pk)s, %(scope)s, '[]', 'opaque', "
                "%(start)s, %(start)s + (g %% %(days)s) * interval '1 day' + (g %% 86399) * interval '1 second' "
                "FROM generate_series(%(first)s, %(last)s) g",
                {"pk": client_pk, "scope": SCOPE, "start": start, "days": DAYS, "first": first,
                 "last": min(first + SEED_CHUNK, count) - 1})
        conn.execute("VACUUM ANALYZE tokens")


def at_scale(count: int, requests: int) -> AtScale:
    from flask_migrate import upgrade

    from authserver import create_app
    from authserver.extensions import db
    from authserver.partitions import TOKENS, add_days
    from tests.databases import new_database

    with tempfile.TemporaryDirectory() as folder, new_database("postgresql", Path(folder), label="scale") as url:
        app = create_app({"database_url": url, "instance_path": folder, "secret_key": uuid.uuid4().hex * 2,
                          "issuer": "http://127.0.0.1:9"})
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                add_days(connection, TOKENS, datetime.now(UTC).date() - timedelta(days=1), datetime.now(UTC).date())
            runner = app.test_cli_runner()
            made = json.loads(runner.invoke(args=["clients", "create", "--name", "scale", "--token-format", "opaque",
                                                  "--introspect-any", "--json"]).stdout)
            client_pk = db.session.scalar(text("SELECT id FROM clients WHERE client_id = :c"), {"c": made["client_id"]})
            db.session.remove()
            _seed_days(url, int(client_pk), count)
            http = app.test_client()
            auth = (made["client_id"], made["client_secret"])
            issued: list[str] = []

            def issue() -> None:
                answer = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
                issued.append(answer.get_json()["access_token"])

            def introspect() -> None:
                answer = http.post("/oauth/introspect", data={"token": random.choice(issued)}, auth=auth)
                assert answer.get_json()["active"] is True

            issue_ms = _median_ms(issue, requests)
            introspect_ms = _median_ms(introspect, requests)
            db.session.remove()  # the requests shared this context's session: no read left open
            started = time.perf_counter()
            report = json.loads(runner.invoke(args=["tokens", "purge", "--json"]).stdout)
            purge_s = time.perf_counter() - started
            size = int(db.session.scalar(text("SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                                              "WHERE inhparent = 'tokens'::regclass")))
            db.session.remove()
            db.engine.dispose()
    return AtScale(count, issue_ms, introspect_ms, purge_s, report["days_dropped"]["tokens"], size)


def main() -> None:
    parser = argparse.ArgumentParser(description="Issuance, introspection and a day's purge at scale.")
    parser.add_argument("--rows", nargs="+", type=lambda v: int(float(v.rstrip("M")) * 1e6) if v.endswith("M")
                        else int(v), default=[1_000_000, 10_000_000, 100_000_000],
                        help="token rows to seed, e.g. 1M 10M 100M")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    base: AtScale | None = None
    for count in args.rows:
        found = at_scale(count, args.requests)
        base = base or found
        print(f"{count:>12,} rows ({found.table_bytes / 2**30:.1f} GiB): "
              f"issue {found.issue_ms:.2f} ms (x{found.issue_ms / base.issue_ms:.2f}), "
              f"introspect {found.introspect_ms:.2f} ms (x{found.introspect_ms / base.introspect_ms:.2f}), "
              f"purge of a day {found.purge_s:.2f} s (x{found.purge_s / base.purge_s:.2f}; "
              f"{found.dropped} day dropped, {count // DAYS:,} rows)", flush=True)


if __name__ == "__main__":
    main()
