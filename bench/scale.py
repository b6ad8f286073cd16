"""Introspection on PostgreSQL with many stored tokens, and ``authserver tokens purge``.

Rows are seeded with COPY and look like the server's own: access tokens with a ``jti`` (and a
keyed hash when opaque), refresh tokens by hash, half of them expired so purge has work.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

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
