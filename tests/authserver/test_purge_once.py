"""``tokens purge`` and ``audit purge`` run once across servers: while another process holds
the purge's lock (PostgreSQL's advisory lock), a second purge does nothing and says so; once it
is released, the purge runs. SQLite, one file on one machine, takes no lock."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Connection, func, select

from authserver.cli.audit import PURGE_LOCK as AUDIT_PURGE
from authserver.cli.tokens import PURGE_LOCK as TOKENS_PURGE
from authserver.extensions import db


def _run(app: Flask, *args: str) -> dict[str, object]:
    result = app.test_cli_runner().invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.output)
    return answer


@pytest.fixture
def other_server(migrated_app: Flask) -> Iterator[Connection]:
    """A connection of "another server", to hold a purge lock with."""
    with migrated_app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("advisory locks are PostgreSQL's; SQLite purges need none")
        with db.engine.connect() as connection:
            yield connection


@pytest.mark.parametrize(("command", "lock", "counted"), [
    (("tokens", "purge"), TOKENS_PURGE, "tokens_deleted"),
    (("audit", "purge", "--older-than", "90d"), AUDIT_PURGE, "events_deleted"),
])
def test_a_purge_already_running_elsewhere_is_not_run_twice(migrated_app: Flask, other_server: Connection,
                                                            command: tuple[str, ...],
                                                            lock: str, counted: str) -> None:
    key = select(func.hashtext(lock)).scalar_subquery()
    assert other_server.scalar(select(func.pg_try_advisory_lock(key))) is True
    try:
        assert _run(migrated_app, *command) == {"skipped": f"another {command[0]} purge is running, "
                                                           "on this or another server"}
    finally:
        other_server.scalar(select(func.pg_advisory_unlock(key)))
    assert counted in _run(migrated_app, *command)
    # The purge let its lock go: another server may take it now.
    assert other_server.scalar(select(func.pg_try_advisory_lock(key))) is True
    other_server.scalar(select(func.pg_advisory_unlock(key)))


def test_on_sqlite_a_purge_takes_no_lock(migrated_app: Flask) -> None:
    with migrated_app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the SQLite case")
    assert "tokens_deleted" in _run(migrated_app, "tokens", "purge")
