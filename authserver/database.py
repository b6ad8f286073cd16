"""Engine set-up shared by the app and the stand-alone stores."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import CursorResult, Engine, Result


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


def engine_options(url: str) -> dict[str, Any]:
    return {"pool_pre_ping": True} if url.startswith("postgresql") else {}


def make_engine(url: str) -> Engine:
    engine = create_engine(url, **engine_options(url))
    if url.startswith("sqlite"):
        event.listen(engine, "connect", tune_sqlite)
    return engine


def rows_changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched: how a conditional claim knows it won."""
    return cast(CursorResult[Any], result).rowcount
