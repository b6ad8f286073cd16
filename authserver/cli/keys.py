"""``authserver keys``: the signing keys behind JWT access tokens."""

from __future__ import annotations

from typing import Any

from flask.cli import AppGroup
from sqlalchemy import select

from ..appstate import state
from ..extensions import db
from ..models import SigningKey
from ..models.types import utcnow
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
@json_option
def rotate(as_json: bool) -> None:
    """Sign with a new key.

    The previous key stays in JWKS until the tokens it signed expire.
    """
    emit(key_record(state().keys.rotate()), as_json)
