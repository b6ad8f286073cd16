"""``authserver resources``: the protected resources (APIs) this server issues tokens for."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..models import ProtectedResource
from ..resources.registry import (
    ResourceError,
    all_resources,
    create_resource,
    delete_resource,
    find_resource,
    resource_record,
    update_resource,
)
from .output import emit, fail, found, json_option

group = AppGroup("resources", help="Manage the protected resources (RFC 8707) tokens are issued for.")


def _find(uri: str) -> ProtectedResource:
    return found(find_resource(uri), f"no resource {uri!r} is registered")


@group.command("create")
@click.argument("uri")
@click.option("--scope", default="", help='Scopes of this API a self-registered client may ask for: "a b".')
@click.option("--name", default="", help="What the consent page calls it.")
@json_option
def create(uri: str, scope: str, name: str, as_json: bool) -> None:
    """Register an API by its resource indicator URI (https; http only on loopback)."""
    try:
        resource = create_resource(uri, scope, name)
    except ResourceError as exc:
        fail(str(exc))
    emit(resource_record(resource), as_json)


@group.command("list")
@json_option
def list_resources(as_json: bool) -> None:
    """List the registered resources."""
    emit([resource_record(r) for r in all_resources()], as_json)


@group.command("show")
@click.argument("uri")
@json_option
def show(uri: str, as_json: bool) -> None:
    """Show one resource."""
    emit(resource_record(_find(uri)), as_json)


@group.command("update")
@click.argument("uri")
@click.option("--scope", help="Replace its scopes.")
@click.option("--name", help="Replace its name.")
@json_option
def update(uri: str, scope: str | None, name: str | None, as_json: bool) -> None:
    """Change a resource's scopes or name; options not given stay as they are."""
    resource = _find(uri)
    try:
        update_resource(resource, scope, name)
    except ResourceError as exc:
        fail(str(exc))
    emit(resource_record(resource), as_json)


@group.command("delete")
@click.argument("uri")
@json_option
def delete(uri: str, as_json: bool) -> None:
    """Stop issuing tokens for it to self-registered clients; tokens already issued stay
    valid until they expire or are revoked."""
    resource = _find(uri)
    record = resource_record(resource)
    delete_resource(resource)
    emit(record, as_json)
