"""Engine set-up shared by the app and the stand-alone stores, and the token endpoint's
direct INSERT."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import Table, create_engine, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Dialect, Engine, Result
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import scoped_session
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# A pooled connection used within this many seconds is trusted without a ping (HikariCP's
# ``aliveBypassWindowMs`` idea): under load nothing is pinged, after a quiet spell the first
# checkout finds out whether the database restarted meanwhile.
PING_AFTER_IDLE = 1.0


def tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; the busy timeout makes workers wait for
    the write lock instead of failing; SQLite leaves foreign keys off unless asked."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def ping_when_idle(engine: Engine, idle: float = PING_AFTER_IDLE) -> None:
    """Check a pooled connection before use only if it sat idle for more than ``idle``
    seconds. ``pool_pre_ping`` pays a round trip on every checkout, which on PostgreSQL is
    a tenth of a token request; a dead connection found here is replaced before use."""

    @event.listens_for(engine, "checkin")
    def idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("pooled connection failed its ping") from exc


def configure(engine: Engine, ping_after_idle: float = PING_AFTER_IDLE) -> Engine:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", tune_sqlite)
    ping_when_idle(engine, ping_after_idle)
    return engine


# A PostgreSQL server that does not answer (a host gone, a network partition) costs a request
# this long, not the kernel's TCP timeout of minutes; a refused connection fails at once.
CONNECT_TIMEOUT_SECONDS = 5


def engine_options(url: str) -> dict[str, Any]:
    """Bound values (hashes, usernames, client ids) stay out of SQLAlchemy's exception
    messages and logs, the statement alone says what failed; PostgreSQL connects or fails
    within ``CONNECT_TIMEOUT_SECONDS``."""
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return options


def make_engine(url: str) -> Engine:
    return configure(create_engine(url, **engine_options(url)))


def rows_changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched: how a conditional claim knows it won."""
    return cast(CursorResult[Any], result).rowcount


def conflict_insert(table: Table, dialect_name: str) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that takes ``ON CONFLICT`` clauses (``DO NOTHING``, ``DO UPDATE``), the same
    on PostgreSQL and SQLite: how a claim or a counter is one atomic statement."""
    return postgresql.insert(table) if dialect_name == "postgresql" else sqlite.insert(table)


class _Prepared:
    """One INSERT compiled for one dialect and one set of columns."""

    def __init__(self, table: Table, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = insert(table).inline().compile(dialect=dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.positional = compiled.positional
        self.order = tuple(compiled.positiontup or ()) if compiled.positional else keys
        self.processors: list[tuple[str, Callable[[Any], Any] | None]] = [
            (key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys
        ]

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = {k: row[k] if p is None or row[k] is None else p(row[k]) for k, p in self.processors}
        return tuple(values[k] for k in self.order) if self.positional else values


# Prefixed to the INSERT of a row whose loss in a crash fails closed (see ``DirectInsert``).
ASYNCHRONOUS_COMMIT = "SET LOCAL synchronous_commit TO off; "


class DirectInsert:
    """One row into ``table`` in one autocommitted statement on a pooled DBAPI connection.

    For a write that stands alone, SQLAlchemy's session and execution layers cost several
    times the INSERT itself (``bench/profiles/``). The SQL and the column types' bind
    processors still come from SQLAlchemy, compiled once per engine, so values are stored
    exactly as the ORM stores them; driver errors, a failed checkout included, come back as
    SQLAlchemy's exceptions, so an outage is an ``OperationalError`` like on every other path.
    Call it through ``authserver.oauth.token_store.store_tokens``, which picks the path.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self._prepared: weakref.WeakKeyDictionary[Engine, dict[tuple[str, ...], _Prepared]] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self, engine: Engine, row: Mapping[str, Any], *, asynchronous_commit: bool = False) -> None:
        """``asynchronous_commit``: on PostgreSQL (psycopg), commit without waiting for the WAL
        flush; the caller decides that losing this row in a database crash is acceptable."""
        keys = tuple(row)
        by_keys = self._prepared.setdefault(engine, {})
        prepared = by_keys.get(keys) or by_keys.setdefault(keys, _Prepared(self.table, engine.dialect, keys))
        params = prepared.params(row)
        dialect = engine.dialect
        asynchronous = asynchronous_commit and dialect.driver == "psycopg"
        sql = ASYNCHRONOUS_COMMIT + prepared.sql if asynchronous else prepared.sql
        connection: PoolProxiedConnection | None = None
        cursor: Any = None
        try:  # every driver error, from the checkout on, leaves as SQLAlchemy's (an outage: OperationalError)
            connection = engine.raw_connection()
            dbapi_connection = connection.dbapi_connection
            assert dbapi_connection is not None  # a fresh checkout always holds one
            dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            # Client-side binding sends both statements as one simple query: PostgreSQL runs it
            # as one implicit transaction, so SET LOCAL holds for the INSERT's commit alone,
            # in the same single round trip as a plain INSERT.
            cursor = (psycopg.ClientCursor(cast(psycopg.Connection[Any], dbapi_connection)) if asynchronous
                      else connection.cursor())
            cursor.execute(sql, params)
            cursor.close()
            dialect.reset_isolation_level(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if connection is not None:
                self._discard(engine, connection, exc, cursor)
            raise DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error,
                                      hide_parameters=True, dialect=dialect) from exc
        finally:
            if connection is not None:
                connection.close()

    @staticmethod
    def _discard(engine: Engine, connection: PoolProxiedConnection, exc: Any, cursor: Any) -> None:
        """After a failed statement the connection goes back transactional, or is thrown
        away; when the database went away (restart, failover) so did the pool's other
        connections, so a fresh pool starts, as SQLAlchemy does on its own paths."""
        dialect, dbapi_connection = engine.dialect, connection.dbapi_connection
        if dbapi_connection is not None and not dialect.is_disconnect(exc, dbapi_connection, cursor):
            try:
                dialect.reset_isolation_level(dbapi_connection)
                return
            except dialect.loaded_dbapi.Error:
                pass
        connection.invalidate(exc)
        engine.dispose(close=False)


logger = logging.getLogger(__name__)


def discard_session(session: scoped_session[Any]) -> None:
    """End a request's session even when the database went away under it.

    Flask-SQLAlchemy's own teardown closes the session too, but a ROLLBACK on a connection the
    database has just terminated raises there, after the response was made, and the WSGI server
    answers that with a bare 500. Registered after ``db.init_app`` (teardowns run last-first),
    this runs first: a failed close is logged and the session dropped, so the answer already
    made (a 503 during an outage) is the one sent; the pool has invalidated the connection."""
    try:
        session.remove()
    except SQLAlchemyError as exc:
        logger.warning("closing the request's database session failed (%s); discarded", type(exc).__name__)
        session.registry.clear()


@contextmanager
def held_once(engine: Engine, name: str) -> Iterator[bool]:
    """Whether this process holds the cluster-wide lock ``name`` for the block: work that must
    happen once across servers (a purge). PostgreSQL's session advisory lock, on a connection
    of its own held for the block and released before it goes back to the pool; SQLite is one
    file on one machine and needs none (its writers queue anyway): always True there."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = select(func.hashtext(name))
    with engine.connect() as connection:
        held = bool(connection.scalar(select(func.pg_try_advisory_lock(key.scalar_subquery()))))
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.scalar(select(func.pg_advisory_unlock(key.scalar_subquery())))
                connection.commit()
