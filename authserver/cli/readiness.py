"""Before a command touches the database: is there one, can we reach it, is its schema the
one this authserver needs? Each answer is one line that says what to do, not a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..schema import schema_of

UPGRADE = "run `authserver db upgrade`"


def describe(url: str) -> str:
    """The URL as a person reads it: the file of a SQLite database, never a password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "an in-memory SQLite database"
    return parsed.render_as_string(hide_password=True)


def is_missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database or ""
    return (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
        and not Path(database).exists()
    )


def database_error(url: str, exc: DBAPIError) -> str:
    """One line for a driver error: the first line of its message, and the fix when we know it."""
    first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    lowered = first.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"the database {describe(url)} is missing tables ({first}): {UPGRADE}"
    if "no such column" in lowered or ("column" in lowered and "does not exist" in lowered):
        return f"the database {describe(url)} has an older schema ({first}): {UPGRADE}"
    if exc.connection_invalidated or "connect" in lowered or "unable to open" in lowered:
        return f"cannot connect to the database {describe(url)}: {first}"
    return f"database error on {describe(url)}: {first}"


def check_database(engine: Engine) -> None:
    """Stop with one line unless the database is reachable and at this code's migration head."""
    url = str(engine.url.render_as_string(hide_password=False))
    if is_missing_sqlite_file(url):
        raise click.ClickException(f"no database at {describe(url)}: {UPGRADE} to create it")
    try:
        with engine.connect() as conn:
            schema = schema_of(conn)
    except DBAPIError as exc:
        raise click.ClickException(database_error(url, exc)) from None
    if not schema.current:
        raise click.ClickException(f"the database {describe(url)} has no schema yet: {UPGRADE}")
    if schema.from_newer_code:
        raise click.ClickException(
            f"the database {describe(url)} is at migration {', '.join(sorted(schema.current))}, which this "
            "authserver does not know: it was upgraded by a newer authserver; install that version"
        )
    if not schema.at_head:
        raise click.ClickException(
            f"the database {describe(url)} is at migration {', '.join(sorted(schema.current))}, "
            f"this authserver needs {', '.join(sorted(schema.heads))}: {UPGRADE}"
        )
