"""Signing keys: rotation keeps the old key published until its tokens expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt as pyjwt
from flask import Flask
from sqlalchemy import select

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import SigningKey
from authserver.models.types import utcnow

from .helpers import introspect, token


def _kids(app: Flask) -> list[str]:
    return [k["kid"] for k in app.test_client().get("/oauth/jwks").get_json()["keys"]]


def test_jwks_holds_public_keys_only_with_cache_headers(app: Flask, make_client) -> None:
    token(app, make_client().basic)  # ensures a key exists
    resp = app.test_client().get("/oauth/jwks")
    assert resp.status_code == 200 and "max-age" in resp.headers["Cache-Control"]
    for key in resp.get_json()["keys"]:
        assert key["use"] == "sig" and key["kid"] and key["alg"] in ("ES256", "RS256", "EdDSA")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(app: Flask, make_client) -> None:
    c = make_client()
    before = token(app, c.basic).get_json()["access_token"]
    old_kid = pyjwt.get_unverified_header(before)["kid"]
    keys = state(app).keys
    new = keys.rotate()
    after = token(app, c.basic).get_json()["access_token"]
    assert pyjwt.get_unverified_header(after)["kid"] == new.kid != old_kid
    assert {old_kid, new.kid} <= set(_kids(app))
    # tokens signed by the old key stay valid while it is published
    assert introspect(app, c.basic, before).get_json()["active"] is True
    old = db.session.execute(select(SigningKey).where(SigningKey.kid == old_kid)).scalar_one()
    assert old.publish_until is not None and old.retired_at is not None
    assert abs((old.publish_until - old.retired_at) - timedelta(seconds=3600)) < timedelta(seconds=1)


def test_a_retired_key_leaves_jwks_after_its_last_token_expired(app: Flask, make_client) -> None:
    c = make_client()
    old_kid = pyjwt.get_unverified_header(token(app, c.basic).get_json()["access_token"])["kid"]
    state(app).keys.rotate()
    old = db.session.execute(select(SigningKey).where(SigningKey.kid == old_kid)).scalar_one()
    old.publish_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert old_kid not in _kids(app)


def test_private_keys_are_encrypted_at_rest(app: Flask, make_client) -> None:
    token(app, make_client().basic)
    for key in db.session.scalars(select(SigningKey)):
        assert b"PRIVATE KEY" not in key.private_key_encrypted
        assert "d" not in key.public_jwk


def test_rs256_and_eddsa_are_selectable(
    migrated_app: Flask, server_settings: dict[str, Any], make_client, tmp_path
) -> None:
    from authserver import create_app

    for alg in ("RS256", "EdDSA"):
        app = create_app({**server_settings, "signing_alg": alg})
        with app.app_context():
            ring = state(app).keys
            ring.rotate()
            value = token(app, make_client().basic).get_json()["access_token"]
            assert pyjwt.get_unverified_header(value)["alg"] == alg
    # back to the default algorithm for the rest of the session
    with migrated_app.app_context():
        state(migrated_app).keys.rotate()
