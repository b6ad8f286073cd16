"""OpenID Connect ID tokens (Core §2, §3.1.3.6, §12.2) from the code exchange and from
refreshes, checked as a relying party checks them: with PyJWT, against the published JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask
from sqlalchemy import select, update

from authserver.appstate import state
from authserver.clients.metadata import ClientMetadata, InvalidClientMetadata
from authserver.extensions import db
from authserver.models import AuthorizationCode, Client, Session, Token
from authserver.models.types import utcnow
from authserver.models.users import user_named

from ..conftest import Registered
from .authorize_helpers import REDIRECT, Flow, authorize_url, consent, pkce_pair, query_of, refresh, sign_in
from .helpers import introspect, token

OIDC_SCOPE = "openid profile email offline_access reports:read"


def _oidc_client(make_client, scope: str = OIDC_SCOPE, **kw: Any):
    return make_client(scope=scope, grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT],
                       name="OIDC app", **kw)


def _verified(app: Flask, id_token: str, audience: str) -> dict[str, Any]:
    """What a relying party does: find the key by ``kid`` in the JWKS, check signature,
    ``iss``, ``aud`` and ``exp`` with PyJWT, an implementation independent of ours."""
    jwks = pyjwt.PyJWKSet.from_dict(app.test_client().get("/oauth/jwks").get_json())
    header = pyjwt.get_unverified_header(id_token)
    key = jwks[header["kid"]]
    claims: dict[str, Any] = pyjwt.decode(
        id_token, key.key, algorithms=[header["alg"]], audience=audience, issuer=state(app).settings.issuer,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]},
    )
    return claims


def _half_hash(value: str, hash_name: str) -> str:
    digest = hashlib.new(hash_name, value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def _signed_in(app: Flask, make_user, client_id: str) -> tuple[Flow, Session]:
    """A browser signed in as a new user, and that sign-in's session row."""
    username, password = make_user()
    http = app.test_client()
    assert sign_in(http, username, password).status_code == 303
    verifier, challenge = pkce_pair()
    user = db.session.scalar(user_named(username))
    assert user is not None
    session = db.session.scalar(select(Session).where(Session.user_id == user.id))
    assert session is not None
    return Flow(app, http, client_id, REDIRECT, verifier, challenge), session


def _exchange(flow: Flow, client: Registered, **params: str) -> dict[str, Any]:
    """Approve an authorization request (on the consent page, even if approved before) and
    redeem its code as the confidential client."""
    body: dict[str, Any] = flow.redeem(flow.code(prompt="consent", **params), auth=client.basic).get_json()
    return body


def test_the_code_exchange_answers_an_id_token_with_every_core_claim(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, session = _signed_in(app, make_user, client.client_id)
    body = _exchange(flow, client, scope="openid profile", nonce="n-0S6_WzA2Mj")
    assert body["scope"] == "openid profile" and "refresh_token" not in body  # no offline_access asked
    claims = _verified(app, body["id_token"], client.client_id)
    access = pyjwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == access["sub"] == session.user.subject
    assert claims["aud"] == claims["azp"] == client.client_id
    assert claims["iss"] == state(app).settings.issuer
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - utcnow().timestamp()) < 10
    assert claims["auth_time"] == int(session.auth_time.timestamp())
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["sid"] == session.public_id and claims["amr"] == ["pwd"]
    assert claims["at_hash"] == _half_hash(body["access_token"], "sha256")
    assert pyjwt.get_unverified_header(body["id_token"])["alg"] == "RS256"  # OIDC's default


def test_auth_time_is_the_sign_in_not_the_code_and_refreshes_keep_it(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, session = _signed_in(app, make_user, client.client_id)
    signed_in_at = utcnow().replace(microsecond=0) - timedelta(minutes=20)  # the person signed in long ago
    db.session.execute(update(Session).where(Session.id == session.id).values(auth_time=signed_in_at))
    db.session.commit()
    first = _exchange(flow, client, scope="openid offline_access", nonce="abc")
    code_row = db.session.scalar(select(AuthorizationCode).order_by(AuthorizationCode.id.desc()).limit(1))
    assert code_row is not None and code_row.created_at - signed_in_at >= timedelta(minutes=19)
    original = _verified(app, first["id_token"], client.client_id)
    assert original["auth_time"] == int(signed_in_at.timestamp())

    refreshed = refresh(app, first["refresh_token"], auth=client.basic).get_json()
    claims = _verified(app, refreshed["id_token"], client.client_id)
    # §12.2: same iss, sub, aud, azp and auth_time; a new iat; at_hash of the new access token
    for name in ("iss", "sub", "aud", "azp", "auth_time", "sid", "amr"):
        assert claims[name] == original[name], name
    assert claims["auth_time"] == int(signed_in_at.timestamp())
    assert "nonce" not in claims
    assert claims["at_hash"] == _half_hash(refreshed["access_token"], "sha256") != original["at_hash"]
    # the refresh token family keeps the sign-in for the refreshes after this one
    rows = db.session.scalars(select(Token).where(Token.family_id == code_row.family_id)).all()
    assert {(r.auth_time, r.sid, tuple(r.amr or ())) for r in rows} == {(signed_in_at, session.public_id, ("pwd",))}
    again = refresh(app, refreshed["refresh_token"], auth=client.basic).get_json()
    assert _verified(app, again["id_token"], client.client_id)["auth_time"] == int(signed_in_at.timestamp())


def test_a_refresh_narrowed_without_openid_gets_no_id_token(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    first = _exchange(flow, client, scope="openid offline_access reports:read")
    narrowed = refresh(app, first["refresh_token"], auth=client.basic, scope="reports:read").get_json()
    assert narrowed["scope"] == "reports:read" and "id_token" not in narrowed


def test_a_replayed_code_gives_nothing_and_revokes_what_it_gave(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    code = flow.code(prompt="consent", scope="openid", nonce="once")
    first = flow.redeem(code, auth=client.basic)
    assert first.status_code == 200
    assert _verified(app, first.get_json()["id_token"], client.client_id)["nonce"] == "once"
    replay = flow.redeem(code, auth=client.basic)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert "id_token" not in replay.get_json() and "access_token" not in replay.get_json()
    assert introspect(app, client.basic, first.get_json()["access_token"]).get_json()["active"] is False


def test_each_code_echoes_its_own_nonce_and_none_without_one(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    # two codes made before either is redeemed: each ID token echoes its own request's nonce
    codes = {nonce: flow.code(prompt="consent", scope="openid", nonce=nonce) for nonce in ("nonce-1", "nonce-2")}
    for nonce, code in codes.items():
        claims = _verified(app, flow.redeem(code, auth=client.basic).get_json()["id_token"], client.client_id)
        assert claims["nonce"] == nonce
    plain = _exchange(flow, client, scope="openid")
    assert "nonce" not in _verified(app, plain["id_token"], client.client_id)


@pytest.mark.parametrize("nonce", ["", "n" * 513])
def test_an_empty_or_oversized_nonce_is_refused_back_to_the_client(
    app: Flask, make_user, make_client, nonce: str
) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    resp = flow.http.get(authorize_url(client.client_id, REDIRECT, flow.challenge, scope="openid", nonce=nonce,
                                       state="keep-me"))
    assert resp.status_code in (302, 303) and resp.headers["Location"].startswith(REDIRECT + "?")
    params = query_of(resp.headers["Location"])
    assert params["error"] == "invalid_request" and params["state"] == "keep-me" and "code" not in params
    assert db.session.scalar(select(AuthorizationCode).where(AuthorizationCode.nonce == nonce)) is None


def test_without_openid_or_without_a_person_there_is_no_id_token(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    oauth_only = _exchange(flow, client, scope="reports:read")
    assert "id_token" not in oauth_only and "refresh_token" in oauth_only  # plain OAuth: as before
    machine = make_client(scope="openid reports:read")
    answer = token(app, machine.basic, scope="openid reports:read").get_json()
    assert "access_token" in answer and "id_token" not in answer  # client credentials: nobody signed in


def test_an_id_token_is_for_its_client_only_and_is_no_access_token(app: Flask, make_user, make_client) -> None:
    a, b = _oidc_client(make_client), _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, a.client_id)
    id_token = _exchange(flow, a, scope="openid")["id_token"]
    assert _verified(app, id_token, a.client_id)["aud"] == a.client_id
    with pytest.raises(pyjwt.InvalidAudienceError):
        _verified(app, id_token, b.client_id)
    # signed by our own key, yet not a token any endpoint accepts as an access token
    for creds in (a.basic, b.basic):
        assert introspect(app, creds, id_token).get_json() == {"active": False}


@pytest.mark.parametrize(("alg", "hash_name"), [("ES256", "sha256"), ("EdDSA", "sha512")])
def test_a_client_registered_with_another_algorithm_gets_it(
    app: Flask, make_user, make_client, alg: str, hash_name: str
) -> None:
    client = _oidc_client(make_client, id_token_signed_response_alg=alg)
    assert client.record["id_token_signed_response_alg"] == alg
    flow, _ = _signed_in(app, make_user, client.client_id)
    body = _exchange(flow, client, scope="openid")
    assert pyjwt.get_unverified_header(body["id_token"])["alg"] == alg
    claims = _verified(app, body["id_token"], client.client_id)
    assert claims["at_hash"] == _half_hash(body["access_token"], hash_name)  # §3.1.3.6; SHA-512 for Ed25519


def test_rs256_id_tokens_and_es256_access_tokens_verify_from_one_jwks(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    body = _exchange(flow, client, scope="openid reports:read")
    published = app.test_client().get("/oauth/jwks").get_json()["keys"]
    by_kid = {k["kid"]: k["alg"] for k in published}
    assert by_kid[pyjwt.get_unverified_header(body["id_token"])["kid"]] == "RS256"
    assert by_kid[pyjwt.get_unverified_header(body["access_token"])["kid"]] == "ES256"
    assert {"RS256", "ES256"} <= set(by_kid.values())


def test_offline_access_decides_refresh_tokens_for_people(app: Flask, make_user, make_client) -> None:
    """OIDC Core §11: a client registered with offline_access gets a refresh token for an
    OpenID Connect request only when it asks for offline_access; one registered without it
    keeps what its refresh_token grant gives (documented in the README)."""
    opted_in = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, opted_in.client_id)
    assert "refresh_token" not in _exchange(flow, opted_in, scope="openid")
    offline = _exchange(flow, opted_in, scope="openid offline_access")
    assert "refresh_token" in offline and "id_token" in offline

    registered_otherwise = _oidc_client(make_client, scope="openid profile")
    flow, _ = _signed_in(app, make_user, registered_otherwise.client_id)
    assert "refresh_token" in _exchange(flow, registered_otherwise, scope="openid")

    no_refresh_grant = make_client(scope=OIDC_SCOPE, grant_types=["authorization_code"], redirect_uris=[REDIRECT])
    flow, _ = _signed_in(app, make_user, no_refresh_grant.client_id)
    body = _exchange(flow, no_refresh_grant, scope="openid offline_access")
    assert "refresh_token" not in body and "id_token" in body


def test_the_code_records_the_session_and_the_nonce(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, session = _signed_in(app, make_user, client.client_id)
    url = authorize_url(client.client_id, REDIRECT, flow.challenge, scope="openid", nonce="stored")
    assert consent(flow.http, url).status_code == 303
    row = db.session.scalar(select(AuthorizationCode).order_by(AuthorizationCode.id.desc()).limit(1))
    assert row is not None
    assert (row.auth_time, row.sid, row.amr, row.nonce) == (session.auth_time, session.public_id, ["pwd"], "stored")


def test_id_token_alg_is_validated_registered_and_changed(app: Flask, make_client) -> None:
    for bad in ("none", "HS256", "RS512", ""):
        with pytest.raises(InvalidClientMetadata) as refused:
            ClientMetadata(client_name="x", grant_types=("client_credentials",), id_token_signed_response_alg=bad)
        assert refused.value.field == "id_token_signed_response_alg"
    from_json = ClientMetadata.from_json({"client_name": "x", "redirect_uris": [REDIRECT],
                                          "id_token_signed_response_alg": "EdDSA"})
    assert from_json.to_json()["id_token_signed_response_alg"] == "EdDSA"
    with pytest.raises(InvalidClientMetadata):
        ClientMetadata.from_json({"client_name": "x", "redirect_uris": [REDIRECT], "id_token_signed_response_alg": 1})

    runner = app.test_cli_runner()
    created = runner.invoke(args=["clients", "create", "--name", "cli-oidc", "--grant-type", "authorization_code",
                                  "--redirect-uri", REDIRECT, "--scope", "openid", "--id-token-alg", "ES256", "--json"])
    record = json.loads(created.stdout)
    assert record["id_token_signed_response_alg"] == "ES256"
    default = json.loads(runner.invoke(args=["clients", "create", "--name", "d", "--json"]).stdout)
    assert default["id_token_signed_response_alg"] == "RS256"
    changed = runner.invoke(args=["clients", "update", record["client_id"], "--id-token-alg", "EdDSA", "--json"])
    assert json.loads(changed.stdout)["id_token_signed_response_alg"] == "EdDSA"
    db.session.expire_all()
    assert db.session.scalar(select(Client.id_token_signed_response_alg)
                             .where(Client.client_id == record["client_id"])) == "EdDSA"
    unknown = runner.invoke(args=["clients", "update", record["client_id"], "--id-token-alg", "HS256"])
    assert unknown.exit_code != 0 and "HS256" in unknown.output


def test_the_consent_page_says_what_the_openid_connect_scopes_share(app: Flask, make_user, make_client) -> None:
    client = _oidc_client(make_client)
    flow, _ = _signed_in(app, make_user, client.client_id)
    page = flow.http.get(authorize_url(client.client_id, REDIRECT, flow.challenge,
                                       scope="openid profile email offline_access"))
    text = page.get_data(as_text=True)
    for words in ("Know who you are when you sign in", "See your name and username", "See your email address",
                  "Keep this access while you are not using it"):
        assert words in text
