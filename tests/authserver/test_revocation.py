"""RFC 7009 revocation."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Flask

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import ACCESS, REFRESH, Client, Token
from authserver.models.types import utcnow
from authserver.secrets import TokenKind, new_secret

from .helpers import introspect, revoke, token


def test_unknown_token_answers_200(app: Flask, make_client) -> None:
    resp = revoke(app, make_client().basic, "asat_unknown")
    assert resp.status_code == 200


def test_a_client_cannot_revoke_another_clients_token(app: Flask, make_client) -> None:
    owner, other = make_client(), make_client()
    value = token(app, owner.basic).get_json()["access_token"]
    assert revoke(app, other.basic, value).status_code == 200
    assert introspect(app, owner.basic, value).get_json()["active"] is True


def test_revocation_requires_client_authentication(app: Flask, make_client) -> None:
    c = make_client()
    value = token(app, c.basic).get_json()["access_token"]
    resp = app.test_client().post("/oauth/revoke", data={"token": value})
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"
    assert introspect(app, c.basic, value).get_json()["active"] is True


def test_a_wrong_or_unknown_hint_does_not_stop_revocation(app: Flask, make_client) -> None:
    c = make_client()
    value = token(app, c.basic).get_json()["access_token"]
    assert revoke(app, c.basic, value, token_type_hint="id_token").status_code == 200
    assert introspect(app, c.basic, value).get_json() == {"active": False}


def _family(app: Flask, client_id: str) -> tuple[str, str, str]:
    """A grant family with one access and one refresh token, as the code flow leaves it."""
    client = db.session.query(Client).filter_by(client_id=client_id).one()
    family, now = str(uuid.uuid4()), utcnow()
    hasher = state(app).hasher
    access, refresh = new_secret(TokenKind.ACCESS), new_secret(TokenKind.REFRESH)
    for kind, value in ((ACCESS, access), (REFRESH, refresh)):
        db.session.add(Token(kind=kind, token_hash=hasher.hash(value), jti=uuid.uuid4().hex if kind == ACCESS else None,
                             family_id=family, client_pk=client.id, scope="a", audience=[client_id],
                             issued_at=now, expires_at=now + timedelta(hours=1)))
    db.session.commit()
    return family, access, refresh


def test_revoking_the_refresh_token_revokes_the_access_tokens_of_its_grant(app: Flask, make_client) -> None:
    c = make_client()
    _, access, refresh = _family(app, c.client_id)
    assert revoke(app, c.basic, refresh, token_type_hint="refresh_token").status_code == 200
    assert introspect(app, c.basic, access).get_json() == {"active": False}
    assert introspect(app, c.basic, refresh).get_json() == {"active": False}


def test_revoking_the_access_token_revokes_the_refresh_token_too(app: Flask, make_client) -> None:
    c = make_client()
    _, access, refresh = _family(app, c.client_id)
    assert revoke(app, c.basic, access).status_code == 200
    assert introspect(app, c.basic, refresh).get_json() == {"active": False}


def test_revoking_one_client_credentials_token_leaves_the_others(app: Flask, make_client) -> None:
    c = make_client()
    first, second = (token(app, c.basic).get_json()["access_token"] for _ in range(2))
    revoke(app, c.basic, first)
    assert introspect(app, c.basic, second).get_json()["active"] is True
