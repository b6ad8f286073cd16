"""``authserver registration-tokens``: initial access tokens for RFC 7591 registration."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..appstate import state
from ..clients.registration_tokens import create_registration_token, registration_token_record
from ..extensions import db
from ..models import RegistrationToken
from ..models.types import utcnow
from ..validation import InvalidField
from .output import emit, fail_invalid, found, json_option

group = AppGroup("registration-tokens", help="Manage initial access tokens for dynamic client registration.")


@group.command("create")
@click.option("--expires-in", type=int, help="Seconds until the token expires (default: never).")
@click.option("--max-uses", type=int, help="Registrations it allows (default: no limit).")
@click.option("--note", default="", help="Who or what the token is for.")
@json_option
def create(expires_in: int | None, max_uses: int | None, note: str, as_json: bool) -> None:
    """Create an initial access token. The token is printed once, now."""
    try:
        row, value = create_registration_token(state().hasher, expires_in, max_uses, note)
    except InvalidField as exc:
        fail_invalid(exc, {"expires_in": "--expires-in", "max_uses": "--max-uses"})
    emit(registration_token_record(row, value), as_json)


@group.command("list")
@json_option
def list_tokens(as_json: bool) -> None:
    """List initial access tokens (never the tokens themselves) with their uses."""
    rows = db.session.scalars(select(RegistrationToken).order_by(RegistrationToken.id))
    emit([registration_token_record(r) for r in rows], as_json)


@group.command("revoke")
@click.argument("token_id", type=int)
@json_option
def revoke(token_id: int, as_json: bool) -> None:
    """Stop an initial access token from registering more clients (those it registered stay)."""
    row = found(db.session.get(RegistrationToken, token_id), f"no registration token with id {token_id}")
    row.revoked_at = row.revoked_at or utcnow()
    db.session.commit()
    emit(registration_token_record(row), as_json)
