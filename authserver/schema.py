"""The database's schema against this code's migrations: one answer for the command line's
start-up check and for the readiness probe."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy.engine import Connection


def migrations_directory() -> str:
    """``migrations/`` of the checkout, installed as ``authserver.migrations``."""
    spec = find_spec("authserver.migrations")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))))


@cache
def _script() -> ScriptDirectory:
    """Read once per process: the migration files are the code's, they do not change under it."""
    return ScriptDirectory(migrations_directory())


@dataclass(frozen=True)
class Schema:
    """Where the database is (``current``: empty before the first migration) and where this
    code needs it (``heads``)."""

    current: frozenset[str]
    heads: frozenset[str]

    @property
    def at_head(self) -> bool:
        return self.current == self.heads

    @property
    def from_newer_code(self) -> bool:
        """At a revision this code has never heard of: a newer authserver migrated it."""
        return any(not _known(revision) for revision in self.current)


def schema_of(connection: Connection) -> Schema:
    current = MigrationContext.configure(connection).get_current_heads()
    return Schema(frozenset(current), frozenset(_script().get_heads()))


def _known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except RevisionError:
        return False
