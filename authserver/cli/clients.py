"""``authserver clients``: register and manage OAuth clients."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .. import audit
from ..appstate import state
from ..changes import Change, Kind, announce
from ..clients.metadata import ClientMetadata, InvalidClientMetadata
from ..clients.registry import (
    apply_metadata,
    client_record,
    metadata_of,
    register_client,
    rotate_client_secret,
)
from ..extensions import db
from ..models import Client
from ..oauth.names import CONFIDENTIAL_METHODS, ID_TOKEN_ALGS, AuthMethod, GrantType, SigningAlg, TokenFormat
from .output import emit, fail, fail_invalid, found, json_option

group = AppGroup("clients", help="Manage OAuth clients.")

# The flag that gives each client metadata field, to name it in a refusal.
FLAGS = {
    "client_name": "--name",
    "grant_types": "--grant-type",
    "redirect_uris": "--redirect-uri",
    "scope": "--scope",
    "token_endpoint_auth_method": "--auth-method",
    "access_token_format": "--token-format",
    "audiences": "--audience",
    "resource_servers": "--resource-server",
    "introspect_any": "--introspect-any",
    "require_pkce": "--pkce/--no-pkce",
    "id_token_signed_response_alg": "--id-token-alg",
    "post_logout_redirect_uris": "--post-logout-redirect-uri",
    "backchannel_logout_uri": "--backchannel-logout-uri",
    "backchannel_logout_session_required": "--backchannel-logout-session-required",
    "jwks": "--jwks-file",
    "jwks_uri": "--jwks-uri",
}
ID_TOKEN_ALG = click.option(
    "--id-token-alg", type=click.Choice([a.value for a in ID_TOKEN_ALGS]),
    help="Sign this client's OpenID Connect ID tokens with this algorithm (default RS256).",
)
BACKCHANNEL_URI_HELP = "Back-Channel Logout: where logout tokens are POSTed when a session ends (https)."
BACKCHANNEL_SESSION_HELP = "The client needs sid in logout tokens (always sent)."

auth_method_option = click.option(
    "--auth-method", type=click.Choice([m.value for m in CONFIDENTIAL_METHODS]),
    help="How a confidential client authenticates (default client_secret_basic; private_key_jwt "
         "with --jwks-file or --jwks-uri, which imply it).")
jwks_file_option = click.option("--jwks-file", type=click.Path(dir_okay=False, path_type=Path),
                                help="JWK Set (JSON) of its public keys, for private_key_jwt.")
jwks_uri_option = click.option("--jwks-uri", metavar="URL", help="https URL of its JWK Set, for private_key_jwt.")


def _keys(jwks_file: Path | None, jwks_uri: str | None) -> dict[str, Any]:
    """The key fields the flags give (none when neither is given)."""
    if jwks_file is not None and jwks_uri is not None:
        fail("give --jwks-file or --jwks-uri, not both")
    if jwks_file is None:
        return {"jwks": None, "jwks_uri": jwks_uri} if jwks_uri is not None else {}
    try:
        jwks = json.loads(jwks_file.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read the JWK Set: {exc}")
    if not isinstance(jwks, dict):
        fail('the JWK Set must be a JSON object: {"keys": [...]} (--jwks-file)')
    return {"jwks": jwks, "jwks_uri": None}


def _auth_method(public: bool, auth_method: str | None, keys: dict[str, Any]) -> str:
    if public and (auth_method or keys):
        fail("a --public client has no secret and no keys: leave out --auth-method, --jwks-file and --jwks-uri")
    if public:
        return AuthMethod.NONE
    return auth_method or (AuthMethod.PRIVATE_KEY_JWT if keys else AuthMethod.CLIENT_SECRET_BASIC)


def find_client(client_id: str) -> Client:
    client: Client | None = db.session.scalar(select(Client).where(Client.client_id == client_id))
    return found(client, f"no client with id {client_id!r}")


@group.command("create")
@click.option("--name", required=True, help="Shown to people on the consent page.")
@click.option("--grant-type", "grant_types", multiple=True, type=click.Choice([g.value for g in GrantType]),
              default=[GrantType.CLIENT_CREDENTIALS.value], show_default=True,
              help="A grant the client may use (repeatable).")
@click.option("--scope", default="", help='Scopes the client may request, space separated: "a b".')
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI (repeatable).")
@click.option("--public", is_flag=True, help="A client without a secret (native or browser apps); PKCE is required.")
@click.option("--token-format", type=click.Choice([f.value for f in TokenFormat]),
              help="Access token format for this client.")
@click.option("--audience", "audiences", multiple=True, help="Resource (aud) its tokens are for (repeatable).")
@click.option("--pkce/--no-pkce", "require_pkce", default=True, help="Require PKCE (always on for public clients).")
@click.option("--resource-server", "resource_servers", multiple=True, metavar="URI",
              help="An API identifier this client serves: it may introspect tokens whose aud names it (repeatable).")
@click.option("--introspect-any", is_flag=True, help="May introspect every token, whatever its audience.")
@ID_TOKEN_ALG
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True, metavar="URI",
              help="Where RP-initiated logout may send people afterwards, exactly (repeatable).")
@click.option("--backchannel-logout-uri", metavar="URI", help=BACKCHANNEL_URI_HELP)
@click.option("--backchannel-logout-session-required", is_flag=True, help=BACKCHANNEL_SESSION_HELP)
@auth_method_option
@jwks_file_option
@jwks_uri_option
@json_option
def create(
    name: str,
    grant_types: tuple[str, ...],
    scope: str,
    redirect_uris: tuple[str, ...],
    public: bool,
    token_format: str | None,
    audiences: tuple[str, ...],
    require_pkce: bool,
    resource_servers: tuple[str, ...],
    introspect_any: bool,
    id_token_alg: str | None,
    post_logout_redirect_uris: tuple[str, ...],
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: bool,
    auth_method: str | None,
    jwks_file: Path | None,
    jwks_uri: str | None,
    as_json: bool,
) -> None:
    """Register a client. Its secret is printed once, now."""
    keys = _keys(jwks_file, jwks_uri)
    try:
        metadata = ClientMetadata(
            client_name=name,
            grant_types=grant_types,
            redirect_uris=redirect_uris,
            scope=scope,
            token_endpoint_auth_method=_auth_method(public, auth_method, keys),
            access_token_format=token_format,
            audiences=audiences,
            resource_servers=resource_servers,
            introspect_any=introspect_any,
            require_pkce=require_pkce,
            id_token_signed_response_alg=id_token_alg or SigningAlg.RS256,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            backchannel_logout_session_required=backchannel_logout_session_required,
            **keys,
        )
    except InvalidClientMetadata as exc:
        fail_invalid(exc, FLAGS)
    client, secret = register_client(state().hasher, metadata)
    emit(client_record(client, secret), as_json)


@group.command("list")
@json_option
def list_clients(as_json: bool) -> None:
    """List clients."""
    emit([client_record(c) for c in db.session.scalars(select(Client).order_by(Client.id))], as_json)


@group.command("show")
@click.argument("client_id")
@json_option
def show(client_id: str, as_json: bool) -> None:
    """Show one client."""
    emit(client_record(find_client(client_id)), as_json)


@group.command("delete")
@click.argument("client_id")
@json_option
def delete(client_id: str, as_json: bool) -> None:
    """Delete a client with its tokens, codes and consents."""
    client = find_client(client_id)
    record = client_record(client)
    db.session.delete(client)
    audit.record(audit.EventType.CLIENT_DELETED, audit.Actor.CLI, client_id=client_id)
    announce(Change(Kind.CLIENT, client_id))
    db.session.commit()
    emit(record, as_json)


@group.command("rotate-secret")
@click.argument("client_id")
@json_option
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Replace a client's secret (printed once).

    The old secret stops working at once.
    """
    client = find_client(client_id)
    try:
        secret = rotate_client_secret(state().hasher, client)
    except InvalidClientMetadata as exc:
        fail(exc.description)
    emit(client_record(client, secret), as_json)


@group.command("update")
@click.argument("client_id")
@click.option("--resource-server", "resource_servers", multiple=True, metavar="URI",
              help="Replace the API identifiers this client serves (repeatable).")
@click.option("--no-resource-servers", is_flag=True, help="Serve no API: introspect no token by its audience.")
@click.option("--introspect-any/--no-introspect-any", default=None, help="May introspect every token.")
@ID_TOKEN_ALG
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True, metavar="URI",
              help="Replace where RP-initiated logout may send people afterwards (repeatable).")
@click.option("--no-post-logout-redirect-uris", is_flag=True, help="Send people to no URI after logout.")
@click.option("--backchannel-logout-uri", metavar="URI", help=BACKCHANNEL_URI_HELP + ' "" stops them.')
@click.option("--backchannel-logout-session-required/--no-backchannel-logout-session-required", default=None,
              help=BACKCHANNEL_SESSION_HELP)
@auth_method_option
@jwks_file_option
@jwks_uri_option
@json_option
def update(
    client_id: str, resource_servers: tuple[str, ...], no_resource_servers: bool, introspect_any: bool | None,
    id_token_alg: str | None, post_logout_redirect_uris: tuple[str, ...], no_post_logout_redirect_uris: bool,
    backchannel_logout_uri: str | None, backchannel_logout_session_required: bool | None,
    auth_method: str | None, jwks_file: Path | None, jwks_uri: str | None, as_json: bool,
) -> None:
    """Change a registered client.

    Which tokens it may introspect, how its ID tokens are signed, where logout may send its
    people, and how it authenticates. Options not given stay as they are; the result is
    checked as a whole before anything is stored. Moving to a secret method prints the new
    secret once; moving to private_key_jwt drops the secret.
    """
    if resource_servers and no_resource_servers:
        fail("give --resource-server or --no-resource-servers, not both")
    if post_logout_redirect_uris and no_post_logout_redirect_uris:
        fail("give --post-logout-redirect-uri or --no-post-logout-redirect-uris, not both")
    client = find_client(client_id)
    changes: dict[str, Any] = {}
    if resource_servers or no_resource_servers:
        changes["resource_servers"] = () if no_resource_servers else resource_servers
    if introspect_any is not None:
        changes["introspect_any"] = introspect_any
    if id_token_alg:
        changes["id_token_signed_response_alg"] = id_token_alg
    if post_logout_redirect_uris or no_post_logout_redirect_uris:
        changes["post_logout_redirect_uris"] = post_logout_redirect_uris
    if backchannel_logout_uri is not None:
        changes["backchannel_logout_uri"] = backchannel_logout_uri or None
    if backchannel_logout_session_required is not None:
        changes["backchannel_logout_session_required"] = backchannel_logout_session_required
    keys = _keys(jwks_file, jwks_uri)
    if auth_method or keys:
        if client.is_public:
            fail("a public client has no secret and no keys: register a confidential client instead")
        method = _auth_method(False, auth_method, keys)
        changes.update(keys if method == AuthMethod.PRIVATE_KEY_JWT else {"jwks": None, "jwks_uri": None})
        changes["token_endpoint_auth_method"] = method
    try:
        secret = apply_metadata(state().hasher, client, dataclasses.replace(metadata_of(client), **changes))
        audit.record(audit.EventType.CLIENT_UPDATED, audit.Actor.CLI, client_id=client_id, changed=sorted(changes))
        announce(Change(Kind.CLIENT, client_id))
        db.session.commit()
    except InvalidClientMetadata as exc:
        db.session.rollback()
        fail_invalid(exc, FLAGS)
    emit(client_record(client, secret), as_json)
