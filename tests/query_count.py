"""Count the SQL statements a block of test code makes, so a test can pin that an open
endpoint does not buy database work per item of attacker input."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event

from authserver.extensions import db


@contextmanager
def counted_queries(app: Flask) -> Iterator[list[str]]:
    """Yield the list of statements run on ``app``'s engine while the block runs."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
