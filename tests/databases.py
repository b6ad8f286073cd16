"""Throwaway databases and free loopback ports, shared by the test suite and the benchmarks
(``python -m bench.run`` imports this module too, so it must not import pytest)."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

PG_ADMIN = os.environ.get("AUTHSERVER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def new_database(kind: str, directory: Path, postgres_admin: str = PG_ADMIN, label: str = "test") -> Iterator[str]:
    """A fresh, empty database of ``kind`` ("sqlite" or "postgresql"), dropped afterwards.
    ``label`` names its origin in the file or database name, to tell leftovers apart."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'{label}-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    name = f"authserver_{label}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
