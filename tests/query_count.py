"""Count the SQL statements a block of test code makes, so a test can pin that an open
endpoint does not buy database work per item of attacker input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event

from authserver.database import DirectInsert
from authserver.extensions import db


@contextmanager
def counted_queries(app: Flask) -> Iterator[list[str]]:
    """Yield the list of statements run on ``app``'s engine while the block runs, the
    autocommitted INSERTs of ``database.DirectInsert`` (a client-credentials token's row),
    which bypass SQLAlchemy's execution events, among them."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    direct = DirectInsert.__call__

    def counted_direct(self: DirectInsert, engine: Engine, row: Mapping[str, Any], **kw: Any) -> None:
        if engine is counted:
            statements.append(f"INSERT INTO {self.table.name} (direct)")
        direct(self, engine, row, **kw)

    with app.app_context():
        counted = db.engine
    event.listen(counted, "before_cursor_execute", count)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DirectInsert, "__call__", counted_direct)
        try:
            yield statements
        finally:
            event.remove(counted, "before_cursor_execute", count)
