"""``authserver api-tokens``: legacy ``Authorization: token <t>`` credentials of users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..appstate import state
from ..extensions import db
from ..models import APIToken
from ..models.types import utcnow
from ..people.api_tokens import api_token_record, create_api_token
from ..validation import InvalidField
from .output import emit, fail, fail_invalid, found, json_option
from .users import find_user

group = AppGroup("api-tokens", help="Manage legacy API tokens.")


def _load_policy(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        text = Path(value[1:]).read_text() if value.startswith("@") else value
        policy = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read the policy: {exc}")
    if not isinstance(policy, dict):
        fail("a policy is a JSON object")
    return policy


@group.command("create")
@click.argument("username")
@click.option("--policy", help="Review Board policy JSON, or @file to read it from a file.")
@click.option("--expires-in", type=int, help="Seconds until the token expires (default: never).")
@click.option("--note", default="", help="What the token is for.")
@json_option
def create(username: str, policy: str | None, expires_in: int | None, note: str, as_json: bool) -> None:
    """Create an API token for a user. The token is printed once, now."""
    user = find_user(username)
    try:
        hasher = state().hasher
        row, value = create_api_token(hasher, user, _load_policy(policy), expires_in, note)
    except InvalidField as exc:
        fail_invalid(exc, {"expires_in": "--expires-in", "policy": "--policy"})
    emit(api_token_record(row, value), as_json)


@group.command("list")
@click.argument("username")
@json_option
def list_tokens(username: str, as_json: bool) -> None:
    """List a user's API tokens (never the tokens themselves)."""
    user = find_user(username)
    rows = db.session.scalars(select(APIToken).where(APIToken.user_id == user.id).order_by(APIToken.id))
    emit([api_token_record(r) for r in rows], as_json)


@group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--reason", default="Revoked by an administrator.", show_default=True,
              help="Told to whoever presents the token from now on.")
@json_option
def revoke(token_id: int, reason: str, as_json: bool) -> None:
    """Invalidate an API token; requests with it then say when and why."""
    row = found(db.session.get(APIToken, token_id), f"no API token with id {token_id}")
    row.valid = False
    row.invalid_date = utcnow()
    row.invalid_reason = reason
    db.session.commit()
    emit(api_token_record(row), as_json)
