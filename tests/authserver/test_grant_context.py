"""What a grant settles (audience, grant family, the family's end, the refresh scope) is one
typed, frozen ``GrantContext`` handed to the token service: a misspelt field is an error,
not a silent ``None``, and every row of a family carries what its authorization settled."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuthorizationCode, Token
from authserver.oauth.tokens import GrantContext

from .authorize_helpers import REDIRECT, refresh, signed_in_flow


def test_a_misspelt_field_is_an_error_not_a_silent_none() -> None:
    with pytest.raises(TypeError):
        GrantContext(("https://api.example",), "", famly_id="f")  # type: ignore[call-arg]
    context = GrantContext(("https://api.example",), "", family_id="f")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.family_id = "g"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        object.__setattr__(context, "famly_id", "g")  # slots: no room for a stray attribute


def test_every_row_of_a_family_carries_what_its_authorization_settled(app: Flask, make_user, make_client) -> None:
    client = make_client(name="Native", scope="reports:read reports:write", public=True,
                         grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT],
                         audiences=["https://a.example", "https://b.example"])
    flow = signed_in_flow(app, make_user, client.client_id)
    code = flow.code(resource="https://b.example", scope="reports:read reports:write")
    first = flow.redeem(code).get_json()
    family_id = db.session.scalar(select(AuthorizationCode.family_id).order_by(AuthorizationCode.id.desc()))
    second = refresh(app, first["refresh_token"], client.client_id, scope="reports:read").get_json()
    assert second["scope"] == "reports:read"
    db.session.expire_all()
    rows = db.session.scalars(select(Token).where(Token.family_id == family_id).order_by(Token.id)).all()
    assert [r.kind for r in rows] == ["access", "refresh", "access", "refresh"]
    assert {tuple(r.audience) for r in rows} == {("https://b.example",)}
    assert rows[3].scope == "reports:read reports:write"  # the rotated refresh token keeps the original scope
    assert rows[2].scope == "reports:read"
    assert rows[1].family_expires_at == rows[3].family_expires_at is not None
    assert refresh(app, first["refresh_token"], client.client_id).status_code == 400  # replay
    db.session.expire_all()
    assert all(r.revoked_at is not None for r in db.session.scalars(select(Token).where(Token.family_id == family_id)))
