"""The change channel on PostgreSQL: ``NOTIFY`` in the changing transaction, ``LISTEN`` on a
connection of each process's own.

A notification is delivered at its transaction's commit, to every connection listening then,
in commit order; a rolled-back transaction's never is. The listening connection is outside
the pool, in autocommit. It pings every ``PING_EVERY`` seconds, and libpq's
``tcp_user_timeout`` and keepalives make a vanished server an error within seconds, not
the system's TCP timeout of many minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

CHANNEL = "authserver_changes"
PING_EVERY = 2.0  # seconds between checks that the connection is alive
APPLICATION_NAME = "authserver-changes"  # in pg_stat_activity


def conninfo(database_url: str) -> str:
    """libpq's form of SQLAlchemy's ``postgresql+psycopg://`` URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresChannel:
    name = "PostgreSQL LISTEN/NOTIFY"

    def __init__(self, database_url: str) -> None:
        self._conninfo = conninfo(database_url)

    def send_in_transaction(self, session: Session, payloads: list[str]) -> None:
        for payload in payloads:
            session.execute(select(func.pg_notify(CHANNEL, payload)))

    def send_after_commit(self, payloads: list[str]) -> None:
        """Sent already, with the commit."""

    def subscribe(self) -> PostgresSubscription:
        connection = psycopg.connect(  # a vanished server: an error within seconds (tcp_user_timeout)
            self._conninfo, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=5,
            tcp_user_timeout=5000, keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)
        return PostgresSubscription(connection)


class PostgresSubscription:
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def __enter__(self) -> PostgresSubscription:
        self._connection.execute(f"LISTEN {CHANNEL}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def messages(self, stopped: threading.Event) -> Iterator[str]:
        while not stopped.is_set():
            for notification in self._connection.notifies(timeout=PING_EVERY):
                yield notification.payload
            self._connection.execute("SELECT 1")
