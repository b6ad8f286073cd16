"""Day partitions on PostgreSQL: rows that end together are dropped together.

``tokens`` and ``authorization_codes`` are range-partitioned by ``expires_at`` and
``audit_events`` by ``occurred_at`` (migration 0012), one partition per UTC day
(``tokens_p20261207`` holds the rows expiring that day) and a ``_default`` partition for
any row no day partition is made for yet. Purging a day is then ``DROP TABLE`` of its
partition: no row is read, so it takes as long at 100 million rows as at one million.
SQLite keeps plain tables, and its purge deletes rows.

Day partitions are made ahead by ``tokens purge`` (run daily), and attached rather than
created in place: ``ATTACH PARTITION`` takes a lock on the parent that lets reads and writes
go on (only the small default partition is locked, briefly, while its rows of that day
move into the new partition). Dropping a day needs a brief exclusive lock on the parent table; it waits at
most ``LOCK_WAIT`` for in-flight queries, and is tried again a few times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

LOCK_WAIT = "2s"
ATTEMPTS = 5
LOCK_NOT_AVAILABLE = "55P03"
_DAY = re.compile(r"_p(\d{8})$")


@dataclass(frozen=True, slots=True)
class DayPartitioned:
    """A table partitioned by the UTC day of ``column``."""

    table: str
    column: str

    def partition(self, day: date) -> str:
        return f"{self.table}_p{day:%Y%m%d}"

    @property
    def default(self) -> str:
        return f"{self.table}_default"


TOKENS = DayPartitioned("tokens", "expires_at")
CODES = DayPartitioned("authorization_codes", "expires_at")
AUDIT = DayPartitioned("audit_events", "occurred_at")
PARTITIONED = (TOKENS, CODES, AUDIT)
_PARTITION_NAME = re.compile(
    rf"^(?:{'|'.join(p.table for p in PARTITIONED)})_(?:p\d{{8}}|default)$")


def is_partition(name: str) -> bool:
    """A partition's name: the schema comparison (``migrations/env.py``) looks at parents only."""
    return bool(_PARTITION_NAME.match(name))


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def is_partitioned(connection: Connection, spec: DayPartitioned) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    found = connection.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
                                   "WHERE partrelid = to_regclass(:t))"), {"t": spec.table})
    return bool(found)


def days(connection: Connection, spec: DayPartitioned) -> list[date]:
    """The days that have a partition of their own, oldest first."""
    names = connection.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": spec.table})
    found = (_DAY.search(name) for name in names)
    return sorted(datetime.strptime(m.group(1), "%Y%m%d").date() for m in found if m)


def add_days(connection: Connection, spec: DayPartitioned, first: date, last: date) -> int:
    """Give every day from ``first`` to ``last`` its partition; how many were made. Each is
    its own transaction, and rows of that day already in the default partition move in."""
    have = set(days(connection, spec))
    made = 0
    day = first
    while day <= last:
        if day not in have:
            _attach(connection, spec, day)
            made += 1
        day += timedelta(days=1)
    return made


class Busy(RuntimeError):
    """A table stayed locked by other work through every attempt."""


def _with_lock_wait(connection: Connection, statements: Callable[[], object], what: str) -> None:
    """``statements`` in a transaction of their own (ending the read that began one), each
    lock waited for ``LOCK_WAIT`` at most, tried ``ATTEMPTS`` times."""
    for _ in range(ATTEMPTS):
        connection.commit()
        try:
            with connection.begin():
                connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
                statements()
            return
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
    raise Busy(f"could not {what}: other work held its lock through {ATTEMPTS} waits of {LOCK_WAIT}; "
               "run the purge again")


def _attach(connection: Connection, spec: DayPartitioned, day: date) -> None:
    name, column = spec.partition(day), spec.column
    bounds = {"lo": start_of(day), "hi": start_of(day + timedelta(days=1))}
    lo, hi = (f"'{bounds[k].isoformat()}'" for k in ("lo", "hi"))

    def statements() -> None:
        connection.execute(text(f"CREATE TABLE {name} (LIKE {spec.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
        connection.execute(text(
            f"WITH moved AS (DELETE FROM {spec.default} WHERE {column} >= :lo AND {column} < :hi RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"), bounds)
        # The bounds as a CHECK first, so ATTACH need not scan the new partition to prove them.
        connection.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds "
                                f"CHECK ({column} IS NOT NULL AND {column} >= {lo} AND {column} < {hi})"))
        connection.execute(text(f"ALTER TABLE {spec.table} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})"))
        connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds"))

    _with_lock_wait(connection, statements, f"make the partition {name}")


def roll(connection: Connection, spec: DayPartitioned, today: date, ahead: int, keep_from: date) -> int:
    """Give today and the next ``ahead`` days their partitions, and drop those of the days
    before ``keep_from``; how many were dropped. Nothing on a table that is not partitioned."""
    if not is_partitioned(connection, spec):
        return 0
    add_days(connection, spec, today, today + timedelta(days=ahead))
    return drop_days_before(connection, spec, keep_from)


def days_ahead(lifetime: int) -> int:
    """Days of partitions to make ahead for rows that live ``lifetime`` seconds: their last
    day, and one more in case the next purge runs late."""
    return -(-lifetime // 86400) + 1


def drop_days_before(connection: Connection, spec: DayPartitioned, day: date) -> int:
    """Drop the partition of every day before ``day``; how many were dropped."""
    dropped = 0
    for old in days(connection, spec):
        if old >= day:
            break
        _drop(connection, spec.partition(old))
        dropped += 1
    return dropped


def _drop(connection: Connection, name: str) -> None:
    _with_lock_wait(connection, lambda: connection.execute(text(f"DROP TABLE {name}")), f"drop the partition {name}")
