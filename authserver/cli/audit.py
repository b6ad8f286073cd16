"""``authserver audit``: read the audit trail, and purge old events."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import click
from flask.cli import AppGroup

from ..audit import EventType
from ..audit.trail import Query, events, purge
from ..database import held_once
from ..extensions import db
from ..models.types import utcnow
from ..partitions import AUDIT, days_ahead, roll
from .output import busy_is_one_line, emit, json_option

group = AppGroup("audit", help="Read and purge the audit trail.")

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
AGE = re.compile(r"(\d{1,9})([smhdw])")
PURGE_LOCK = "authserver audit purge"  # one at a time across servers (``database.held_once``)


class BadValue(click.ClickException):
    """A wrong option value, told in one line with exit status 2 (click's usage errors print
    the whole usage first)."""

    exit_code = 2


class Age(click.ParamType[timedelta]):
    """A span back from now: ``45s``, ``30m``, ``1h``, ``90d``, ``2w``."""

    name = "age"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = AGE.fullmatch(str(value).strip())
        if match is None:
            flag = param.opts[0] if param is not None else "age"
            raise BadValue(f"{flag}: {value!r} is no age; write a number and a unit, e.g. 45s, 30m, 1h, 90d, 2w")
        return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


@group.command("list")
@click.option("--type", "types", multiple=True, type=click.Choice([t.value for t in EventType]),
              help="Only events of this type (repeatable).")
@click.option("--since", type=Age(), help="Only events this recent, e.g. 1h or 7d.")
@click.option("--client", "client_id", help="Only events about this client.")
@click.option("--user", "username", help="Only events about this user.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000), help="At most this many.")
@json_option
def list_events(types: tuple[str, ...], since: timedelta | None, client_id: str | None, username: str | None,
                limit: int, as_json: bool) -> None:
    """The newest events first; with --json, one JSON object a line."""
    found = events(Query(frozenset(types), utcnow() - since if since else None, client_id, username, limit))
    if as_json:
        for line in found:
            click.echo(json.dumps(line, separators=(",", ":")))
        return
    for line in found:
        who = line["user"] or line["client_id"] or "-"
        details = " ".join(f"{key}={value}" for key, value in line["details"].items())
        when = datetime.fromisoformat(line["time"]).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{when}  {line['type']:<22}  {line['actor']:<9}  {who}  {line['remote_addr'] or '-'}  {details}")


@group.command("purge")
@click.option("--older-than", required=True, type=Age(), help="Delete events older than this, e.g. 90d.")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100000),
              help="Rows deleted per transaction, so no lock is held long.")
@json_option
def purge_events(older_than: timedelta, batch_size: int, as_json: bool) -> None:
    """Delete audit events older than an age. Client-credentials tokens' own events go with
    their rows (``tokens purge``). On PostgreSQL each whole day older than the age is one
    partition dropped; the rest of the oldest day kept goes row by row."""
    with held_once(db.engine, PURGE_LOCK) as held:
        if not held:
            emit({"skipped": "another audit purge is running, on this or another server"}, as_json)
            return
        cutoff = utcnow() - older_than
        with db.engine.connect() as connection, busy_is_one_line():  # whole days first, where partitioned
            days = roll(connection, AUDIT, utcnow().date(), days_ahead(0), cutoff.date())
        emit({"events_deleted": purge(cutoff, batch_size), "days_dropped": days}, as_json)
