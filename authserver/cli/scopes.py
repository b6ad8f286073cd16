"""``authserver scopes``: the scope catalogue (consent-page descriptions, published scopes)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import Scope
from ..resources.catalogue import CatalogueError, create_scope, find_scope, scope_record, update_scope
from .output import emit, fail, found, json_option

group = AppGroup("scopes", help="Manage the scope catalogue.")


def _find(name: str) -> Scope:
    return found(find_scope(name), f"no scope named {name!r} in the catalogue")


@group.command("create")
@click.argument("name")
@click.option("--description", default="", help="What it lets a client do, shown on the consent page.")
@click.option("--public", is_flag=True, help="List it in the server metadata's scopes_supported.")
@json_option
def create(name: str, description: str, public: bool, as_json: bool) -> None:
    """Add a scope to the catalogue. Clients may use scopes that are not in it."""
    try:
        scope = create_scope(name, description, public)
    except CatalogueError as exc:
        fail(str(exc))
    emit(scope_record(scope), as_json)


@group.command("list")
@json_option
def list_scopes(as_json: bool) -> None:
    """List the catalogue."""
    emit([scope_record(s) for s in db.session.scalars(select(Scope).order_by(Scope.name))], as_json)


@group.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show one scope."""
    emit(scope_record(_find(name)), as_json)


@group.command("update")
@click.argument("name")
@click.option("--description", help="Replace the description.")
@click.option("--public/--no-public", default=None, help="Publish it in the metadata, or stop publishing it.")
@json_option
def update(name: str, description: str | None, public: bool | None, as_json: bool) -> None:
    """Change a scope's description or publication; options not given stay as they are."""
    scope = _find(name)
    update_scope(scope, description, public)
    emit(scope_record(scope), as_json)


@group.command("delete")
@click.argument("name")
@json_option
def delete(name: str, as_json: bool) -> None:
    """Remove a scope from the catalogue. Clients registered with it keep it; the consent
    page shows its bare name again and the metadata no longer lists it."""
    scope = _find(name)
    record = scope_record(scope)
    db.session.delete(scope)
    db.session.commit()
    emit(record, as_json)
