"""RFC 7662 introspection for JWT and opaque tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import Token
from authserver.models.types import utcnow

from .helpers import basic, introspect, revoke, token


@pytest.fixture(params=["jwt", "opaque"])
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


def test_active_token_answers_the_rfc_fields(app: Flask, make_client, fmt: str) -> None:
    c = make_client(scope="a b", token_format=fmt, audiences=["https://api.example"])
    rs = make_client(resource_servers=["https://api.example"])  # the API the token is for
    value = token(app, c.basic, scope="a").get_json()["access_token"]
    body = introspect(app, rs.basic, value).get_json()
    assert body["active"] is True
    assert body["scope"] == "a"
    assert body["client_id"] == c.client_id == body["sub"]
    assert body["token_type"] == "Bearer"
    assert body["aud"] == "https://api.example"
    assert body["iss"] == state(app).settings.issuer
    assert body["exp"] - body["iat"] == 3600 and body["nbf"] == body["iat"]
    assert body["jti"]
    assert "username" not in body


def _inactive(app: Flask, creds: tuple[str, str], value: str) -> None:
    resp = introspect(app, creds, value)
    assert resp.status_code == 200
    assert resp.get_json() == {"active": False}


def test_revoked_token_is_exactly_inactive(app: Flask, make_client, fmt: str) -> None:
    c = make_client(token_format=fmt)
    value = token(app, c.basic).get_json()["access_token"]
    assert revoke(app, c.basic, value).status_code == 200
    _inactive(app, c.basic, value)


def test_expired_token_is_exactly_inactive(app: Flask, make_client, fmt: str) -> None:
    c = make_client(token_format=fmt)
    value = token(app, c.basic).get_json()["access_token"]
    db.session.execute(
        update(Token).where(Token.client.has(client_id=c.client_id)).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    _inactive(app, c.basic, value)


@pytest.mark.parametrize(
    "value",
    ["garbage", "asat_" + "A" * 36, "a.b.c", "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.", "x" * 10000, "asrt_" + "0" * 36],
)
def test_unknown_or_malformed_tokens_are_exactly_inactive(app: Flask, make_client, value: str) -> None:
    _inactive(app, make_client().basic, value)


def test_a_forged_jwt_with_a_known_jti_is_inactive(app: Flask, make_client) -> None:
    """Re-signing a real token's claims with another key must not make it active."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec

    c = make_client()
    real = token(app, c.basic).get_json()["access_token"]
    claims = pyjwt.decode(real, options={"verify_signature": False})
    header = pyjwt.get_unverified_header(real)
    forged = pyjwt.encode(
        claims,
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": header["kid"], "typ": "at+jwt"},
    )
    _inactive(app, c.basic, forged)
    hs = pyjwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": header["kid"]})
    _inactive(app, c.basic, hs)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_our_own_signature_over_non_finite_numbers_is_not_our_token(app: Flask, make_client, literal: str) -> None:
    """A token with a real jti and our signature, but JSON no issuer of ours writes, is unknown."""
    import json

    from joserfc import jws

    c = make_client()
    real = token(app, c.basic).get_json()["access_token"]
    key = state(app).keys.active()
    claims = json.loads(jws.extract_compact(real.encode()).payload)
    payload = json.dumps({**claims, "nbf": "__VALUE__"}).replace('"__VALUE__"', literal).encode()
    resigned = jws.serialize_compact({"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}, payload, key.key)
    assert introspect(app, c.basic, real).get_json()["active"] is True
    _inactive(app, c.basic, resigned)


def test_introspection_requires_client_authentication(app: Flask, make_client) -> None:
    c = make_client()
    value = token(app, c.basic).get_json()["access_token"]
    resp = app.test_client().post("/oauth/introspect", data={"token": value})
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"
    assert introspect(app, (c.client_id, "ascs_nope"), value).status_code == 401


def test_missing_token_parameter_is_invalid_request(app: Flask, make_client) -> None:
    c = make_client()
    resp = app.test_client().post(
        "/oauth/introspect", data={"token_type_hint": "access_token"}, headers=basic(*c.basic)
    )
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_server_wide_opaque_format(migrated_app: Flask, server_settings: dict[str, Any], make_client) -> None:
    from authserver import create_app

    app = create_app({**server_settings, "access_token_format": "opaque"})
    c = make_client()
    with app.app_context():
        value = token(app, c.basic).get_json()["access_token"]
        assert value.startswith("asat_")
        assert introspect(app, c.basic, value).get_json()["active"] is True
