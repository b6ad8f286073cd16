"""The refresh_token grant (RFC 6749 §6): rotation, reuse detection (RFC 9700 §4.14.2),
scope narrowing, client binding and lifetimes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import Token
from authserver.models.types import utcnow

from .authorize_helpers import REDIRECT, refresh, signed_in_flow
from .helpers import introspect, revoke

CODE_GRANTS = ["authorization_code", "refresh_token"]


@pytest.fixture
def public(make_client):
    return make_client(name="Native app", scope="reports:read reports:write", grant_types=CODE_GRANTS,
                       redirect_uris=[REDIRECT], public=True)


@pytest.fixture
def resource_server(make_client):
    return make_client(name="Reports API", scope="", introspect_any=True)


@pytest.fixture
def tokens(app: Flask, make_user, public) -> dict[str, Any]:
    flow = signed_in_flow(app, make_user, public.client_id)
    resp = flow.redeem(flow.code())
    assert resp.status_code == 200
    return resp.get_json()


def _row(app: Flask, refresh_token: str) -> Token:
    db.session.expire_all()
    row = state(app).tokens.find(refresh_token)
    assert row is not None
    return row


def _active(app: Flask, rs, value: str) -> bool:
    return introspect(app, rs.basic, value).get_json()["active"]


def test_every_refresh_rotates(app: Flask, public, resource_server, tokens) -> None:
    first = refresh(app, tokens["refresh_token"], public.client_id)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert body["refresh_token"].startswith("asrt_") and body["refresh_token"] != tokens["refresh_token"]
    assert body["scope"] == tokens["scope"]
    assert not _active(app, resource_server, tokens["refresh_token"])
    assert _active(app, resource_server, body["refresh_token"]) and _active(app, resource_server, body["access_token"])
    second = refresh(app, body["refresh_token"], public.client_id)
    assert second.status_code == 200


def test_reuse_of_a_rotated_token_revokes_the_whole_family(app: Flask, public, resource_server, tokens) -> None:
    newer = refresh(app, tokens["refresh_token"], public.client_id).get_json()
    newest = refresh(app, newer["refresh_token"], public.client_id).get_json()
    reuse = refresh(app, tokens["refresh_token"], public.client_id)
    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    for value in (tokens["access_token"], newer["access_token"], newest["access_token"], newest["refresh_token"]):
        assert not _active(app, resource_server, value)
    assert refresh(app, newest["refresh_token"], public.client_id).get_json()["error"] == "invalid_grant"


def test_scope_may_narrow_and_the_refresh_token_keeps_the_original(app: Flask, public, tokens) -> None:
    assert tokens["scope"] == "reports:read reports:write"
    narrow = refresh(app, tokens["refresh_token"], public.client_id, scope="reports:read").get_json()
    assert narrow["scope"] == "reports:read"
    back = refresh(app, narrow["refresh_token"], public.client_id).get_json()
    assert back["scope"] == "reports:read reports:write"


@pytest.mark.parametrize("scope", ["reports:destroy", "reports:read reports:destroy", "admin"])
def test_scope_never_widens(app: Flask, make_user, make_client, scope: str) -> None:
    c = make_client(
        scope="reports:read reports:destroy admin", grant_types=CODE_GRANTS, redirect_uris=[REDIRECT], public=True
    )
    flow = signed_in_flow(app, make_user, c.client_id)
    granted = flow.redeem(flow.code(scope="reports:read")).get_json()
    resp = refresh(app, granted["refresh_token"], c.client_id, scope=scope)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_scope"
    assert refresh(app, granted["refresh_token"], c.client_id).status_code == 200  # not burnt


def test_refresh_by_another_client_is_invalid_grant(app: Flask, public, make_client, tokens) -> None:
    other_public = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT], public=True)
    other_confidential = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT])
    assert refresh(app, tokens["refresh_token"], other_public.client_id).get_json()["error"] == "invalid_grant"
    assert refresh(app, tokens["refresh_token"], auth=other_confidential.basic).get_json()["error"] == "invalid_grant"
    assert refresh(app, tokens["refresh_token"], public.client_id).status_code == 200


def test_confidential_client_refreshes_with_its_secret(app: Flask, make_user, make_client) -> None:
    c = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT])
    flow = signed_in_flow(app, make_user, c.client_id)
    granted = flow.redeem(flow.code(), auth=c.basic).get_json()
    assert refresh(app, granted["refresh_token"], c.client_id).get_json()["error"] == "invalid_client"
    assert refresh(app, granted["refresh_token"], auth=c.basic).status_code == 200


def test_client_without_refresh_grant_gets_no_refresh_token(app: Flask, make_user, make_client) -> None:
    c = make_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT], public=True)
    flow = signed_in_flow(app, make_user, c.client_id)
    assert "refresh_token" not in flow.redeem(flow.code()).get_json()


def test_the_family_has_an_absolute_lifetime(app: Flask, public, tokens) -> None:
    original = _row(app, tokens["refresh_token"])
    family_end = original.family_expires_at
    settings = state(app).settings
    assert family_end is not None
    assert abs((family_end - original.issued_at).total_seconds() - settings.refresh_family_ttl) < 1
    assert abs((original.expires_at - original.issued_at).total_seconds() - settings.refresh_token_ttl) < 1
    rotated = refresh(app, tokens["refresh_token"], public.client_id).get_json()["refresh_token"]
    assert _row(app, rotated).family_expires_at == family_end

    db.session.execute(update(Token).where(Token.family_id == original.family_id)
                       .values(family_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    resp = refresh(app, rotated, public.client_id)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_rotation_never_extends_past_the_family_end(app: Flask, public, tokens) -> None:
    original = _row(app, tokens["refresh_token"])
    soon = utcnow() + timedelta(minutes=5)
    db.session.execute(update(Token).where(Token.id == original.id).values(family_expires_at=soon))
    db.session.commit()
    rotated = _row(app, refresh(app, tokens["refresh_token"], public.client_id).get_json()["refresh_token"])
    assert rotated.family_expires_at == soon and rotated.expires_at <= soon


def test_expired_refresh_token_is_invalid_grant(app: Flask, public, tokens) -> None:
    row = _row(app, tokens["refresh_token"])
    db.session.execute(update(Token).where(Token.id == row.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert refresh(app, tokens["refresh_token"], public.client_id).get_json()["error"] == "invalid_grant"


def test_revoked_refresh_token_is_invalid_grant(app: Flask, make_user, make_client) -> None:
    c = make_client(grant_types=CODE_GRANTS, redirect_uris=[REDIRECT])
    flow = signed_in_flow(app, make_user, c.client_id)
    granted = flow.redeem(flow.code(), auth=c.basic).get_json()
    assert revoke(app, c.basic, granted["refresh_token"]).status_code == 200
    assert refresh(app, granted["refresh_token"], auth=c.basic).get_json()["error"] == "invalid_grant"


def test_disabled_user_cannot_refresh(app: Flask, public, tokens) -> None:
    row = _row(app, tokens["refresh_token"])
    assert row.user is not None
    row.user.is_active = False
    db.session.commit()
    resp = refresh(app, tokens["refresh_token"], public.client_id)
    assert resp.status_code == 400 and resp.get_json()["error"] in ("invalid_grant", "invalid_request")


def test_refreshed_tokens_are_still_the_users(app: Flask, public, resource_server, tokens) -> None:
    before = introspect(app, resource_server.basic, tokens["access_token"]).get_json()
    after = refresh(app, tokens["refresh_token"], public.client_id).get_json()
    info = introspect(app, resource_server.basic, after["access_token"]).get_json()
    assert info["sub"] == before["sub"] and info["sub"].startswith("user:") and info["sub"] != public.client_id
    assert info["username"] == before["username"]


@pytest.mark.parametrize("value", ["", "asrt_short", "asat_" + "A" * 40, "not-a-token", "a.b.c", "x" * 4000])
def test_malformed_refresh_tokens_are_invalid_grant_not_500(app: Flask, public, value: str) -> None:
    resp = refresh(app, value, public.client_id)
    assert resp.status_code == 400 and resp.get_json()["error"] in ("invalid_grant", "invalid_request")


def test_access_token_presented_as_refresh_token_is_refused(app: Flask, public, tokens) -> None:
    assert refresh(app, tokens["access_token"], public.client_id).get_json()["error"] == "invalid_grant"


def test_stored_refresh_tokens_are_hashes(app: Flask, tokens) -> None:
    db.session.expire_all()
    stored = db.session.scalars(select(Token.token_hash).where(Token.token_hash.is_not(None))).all()
    assert tokens["refresh_token"] not in stored
    assert state(app).hasher.hash(tokens["refresh_token"]) in stored
