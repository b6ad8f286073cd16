"""Signing keys: rotation keeps the old key published until its tokens expire."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jwt as pyjwt
from flask import Flask
from sqlalchemy import select

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import SigningKey
from authserver.models.types import utcnow
from authserver.oauth.keys import KeyRing

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


def _active(alg: str) -> list[SigningKey]:
    query = select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
    return list(db.session.scalars(query))


def test_each_algorithm_has_its_own_active_key_created_on_first_use(app: Flask) -> None:
    # A ring of its own: the app's ring may cache, for up to its refresh interval, a key
    # that another app of this session has since rotated.
    keys = KeyRing(state(app).hasher, "ES256", publish_grace=timedelta(hours=1), refresh_interval=60)
    access, id_tokens, eddsa = keys.active(), keys.active("RS256"), keys.active("EdDSA")
    assert (access.alg, id_tokens.alg, eddsa.alg) == ("ES256", "RS256", "EdDSA")
    assert len({access.kid, id_tokens.kid, eddsa.kid}) == 3
    assert {access.kid, id_tokens.kid, eddsa.kid} <= set(_kids(app))
    for alg in ("ES256", "RS256", "EdDSA"):
        assert len(_active(alg)) == 1, alg
    assert keys.active("RS256") is id_tokens  # cached per worker: no new key, no re-import


def test_rotating_one_algorithm_leaves_the_others_and_keeps_its_own_overlap(app: Flask) -> None:
    keys = state(app).keys
    es256, rs256 = keys.active(), keys.active("RS256")
    new = keys.rotate("RS256")
    assert new.alg == "RS256" and keys.active("RS256").kid == new.kid
    assert keys.active().kid == es256.kid  # the access-token key did not move
    old = db.session.execute(select(SigningKey).where(SigningKey.kid == rs256.kid)).scalar_one()
    assert old.retired_at is not None and old.publish_until is not None
    assert {es256.kid, rs256.kid, new.kid} <= set(_kids(app))  # the retired RS256 key still verifies


def test_rotate_in_use_rotates_every_algorithm_with_an_active_key(app: Flask) -> None:
    keys = state(app).keys
    before = {alg: keys.active(alg).kid for alg in ("ES256", "RS256")}
    rotated = keys.rotate_in_use()
    assert rotated[0].alg == "ES256"  # the access-token algorithm first
    by_alg = {k.alg: k.kid for k in rotated}
    assert {"ES256", "RS256"} <= set(by_alg) and len(by_alg) == len(rotated)
    published = set(_kids(app))
    for alg, old_kid in before.items():
        assert keys.active(alg).kid == by_alg[alg] != old_kid
        assert old_kid in published and by_alg[alg] in published
        assert [k.kid for k in _active(alg)] == [by_alg[alg]]


def test_the_command_rotates_one_algorithm_with_alg(app: Flask) -> None:
    keys = state(app).keys
    es256, rs256 = keys.active().kid, keys.active("RS256").kid
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "rotate", "--alg", "RS256", "--json"])
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.stdout)
    assert [k["alg"] for k in rotated] == ["RS256"] and rotated[0]["state"] == "active"
    db.session.expire_all()
    assert [k.kid for k in _active("ES256")] == [es256]
    assert [k.kid for k in _active("RS256")] == [rotated[0]["kid"]] != [rs256]
    refused = runner.invoke(args=["keys", "rotate", "--alg", "HS256"])
    assert refused.exit_code != 0
