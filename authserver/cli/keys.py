"""``authserver keys``: the signing keys behind JWT access tokens and ID tokens."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..appstate import state
from ..extensions import db
from ..models import SigningKey
from ..models.types import utcnow
from ..oauth.names import SigningAlg
from .output import emit, json_option

group = AppGroup("keys", help="Manage signing keys.")


def key_record(key: SigningKey) -> dict[str, Any]:
    now = utcnow()
    if key.retired_at is None:
        state = "active"
    elif key.publish_until and key.publish_until > now:
        state = "published"
    else:
        state = "expired"
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": state,
        "created_at": key.created_at,
        "retired_at": key.retired_at,
        "publish_until": key.publish_until,
    }


@group.command("list")
@json_option
def list_keys(as_json: bool) -> None:
    """List signing keys.

    "active" signs, "published" still verifies, "expired" is gone from JWKS.
    """
    keys = db.session.scalars(select(SigningKey).order_by(SigningKey.id.desc()))
    emit([key_record(k) for k in keys], as_json)


@group.command("rotate")
@click.option("--alg", type=click.Choice([a.value for a in SigningAlg]),
              help="Rotate only this algorithm's key (default: every algorithm in use).")
@json_option
def rotate(alg: str | None, as_json: bool) -> None:
    """Sign with new keys: one per algorithm in use, or for --alg only.

    Each previous key stays in JWKS until the tokens it signed expire.
    """
    keys = state().keys
    rotated = [keys.rotate(alg)] if alg else keys.rotate_in_use()
    emit([key_record(k) for k in rotated], as_json)
