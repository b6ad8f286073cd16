"""Printing records for people or, with ``--json``, for scripts; errors to stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click

from ..partitions import Busy
from ..validation import InvalidField

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def emit(record: dict[str, Any] | list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(record, default=_plain, indent=2))
        return
    records = record if isinstance(record, list) else [record]
    for i, item in enumerate(records):
        if i:
            click.echo("")
        width = max((len(k) for k in item), default=0)
        for key, value in item.items():
            click.echo(f"{key.ljust(width)}  {_plain(value)}")


def fail(message: str) -> NoReturn:
    """Stop with a message on stderr and exit status 1."""
    raise click.ClickException(message)


@contextmanager
def busy_is_one_line() -> Iterator[None]:
    """A table other work kept locked stops the command with one line, not a traceback."""
    try:
        yield
    except Busy as exc:
        fail(str(exc))


def fail_invalid(exc: InvalidField, flags: Mapping[str, str]) -> NoReturn:
    """A refused field, named by the command-line flag that gave it."""
    flag = flags.get(exc.field)
    fail(f"{exc.description} ({flag})" if flag else exc.description)


def found(row: T | None, missing: str) -> T:
    """The row a command was asked about, or stop saying what is missing."""
    if row is None:
        fail(missing)
    return row
