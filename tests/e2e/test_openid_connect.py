"""OpenID Connect against the real server (gunicorn, two workers), as a relying party meets
it: discovery, code + PKCE + nonce, the ID token checked with PyJWT's JWKS client at the
discovered ``jwks_uri``, a refresh, and a rotation of the ID-token key."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt as pyjwt
import requests

from .authorize_flow import approve, pkce_pair, query_of

REDIRECT = "https://rp.example/callback"


def _discover(url: str) -> dict[str, Any]:
    resp = requests.get(url + "/.well-known/openid-configuration", timeout=5)
    assert resp.status_code == 200
    document: dict[str, Any] = resp.json()
    assert document["issuer"] == url
    return document


def _sign_in_and_redeem(live_server, client, user: tuple[str, str], nonce: str,
                        scope: str = "openid profile offline_access") -> dict[str, Any]:
    provider = _discover(live_server.url)
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT,
              "scope": scope, "state": "s1", "nonce": nonce,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    location = approve(provider["authorization_endpoint"] + "?" + urlencode(params), *user)
    code = query_of(location)["code"]
    resp = requests.post(provider["token_endpoint"], auth=client.basic, timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _verify(live_server, id_token: str, audience: str) -> dict[str, Any]:
    jwks = pyjwt.PyJWKClient(_discover(live_server.url)["jwks_uri"], cache_keys=False)
    key = jwks.get_signing_key_from_jwt(id_token)
    claims: dict[str, Any] = pyjwt.decode(id_token, key, algorithms=["RS256", "ES256", "EdDSA"], audience=audience,
                                          issuer=live_server.url)
    return claims


def test_a_relying_party_signs_a_person_in_and_refreshes(live_server, make_client, make_user) -> None:
    client = make_client(scope="openid profile offline_access", grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[REDIRECT])
    nonce = secrets.token_urlsafe(16)
    body = _sign_in_and_redeem(live_server, client, make_user(), nonce)
    claims = _verify(live_server, body["id_token"], client.client_id)
    assert claims["nonce"] == nonce and claims["azp"] == client.client_id and claims["sub"].startswith("user:")
    refreshed = requests.post(_discover(live_server.url)["token_endpoint"], auth=client.basic, timeout=5,
                              data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}).json()
    again = _verify(live_server, refreshed["id_token"], client.client_id)
    assert (again["sub"], again["auth_time"], again["sid"]) == (claims["sub"], claims["auth_time"], claims["sid"])
    assert "nonce" not in again


def test_rotating_the_id_token_key_keeps_issued_id_tokens_verifiable(live_server, make_client, make_user) -> None:
    client = make_client(scope="openid", grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                         id_token_signed_response_alg="ES256")
    user = make_user()
    before = _sign_in_and_redeem(live_server, client, user, "n1", "openid")["id_token"]
    assert pyjwt.get_unverified_header(before)["alg"] == "ES256"
    rotated = live_server.cli("keys", "rotate", "--alg", "ES256", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = json.loads(rotated.stdout)[0]["kid"]
    deadline = time.monotonic() + 15  # every worker moves to the new key within its re-check interval
    while True:
        after = _sign_in_and_redeem(live_server, client, user, "n2", "openid")["id_token"]
        if pyjwt.get_unverified_header(after)["kid"] == new_kid:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for id_token in (before, after):  # the retired key stays in the JWKS for its tokens' lifetime
        assert _verify(live_server, id_token, client.client_id)["aud"] == client.client_id
