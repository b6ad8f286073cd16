"""The OpenID Foundation's Config OP and Basic OP test plans, module by module, as pytest cases
against the real server over HTTP (``oidcc-*`` names are the conformance suite's modules).

ID tokens are checked with PyJWT against the published JWKS — not with the server's own code —
the way the suite's ValidateIdToken, ValidateIdTokenSignatureUsingKid and ValidateIdTokenNonce
conditions do. Modules for features the server does not offer (the ``address`` and ``phone``
scopes, unsigned ID tokens, request objects) are checked for the refusal the suite accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import jwt
import pytest
import requests

from authserver.clients.metadata import InvalidClientMetadata
from authserver.extensions import db
from authserver.models import Session, User

from .authorize_flow import approve, pkce_pair, query_of

pytestmark = pytest.mark.e2e

REDIRECT = "http://127.0.0.1:8765/callback"
SIGNED_OUT = "http://127.0.0.1:8765/signed-out"
SCOPE = "openid profile email offline_access"
NAME, EMAIL = "Alice Example", "alice@example.com"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3


@pytest.fixture(scope="module")
def discovery(live_server) -> requests.Response:
    return requests.get(live_server.url + "/.well-known/openid-configuration", timeout=10)


@pytest.fixture(scope="module")
def config(discovery: requests.Response) -> dict[str, Any]:
    document: dict[str, Any] = discovery.json()
    return document


@pytest.fixture(scope="module")
def jwks(config: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = requests.get(config["jwks_uri"], timeout=10).json()
    return keys


# --- Config OP: oidcc-discovery-endpoint-verification, condition by condition -----------------

def test_discovery_answers_200_json(discovery: requests.Response) -> None:
    assert discovery.status_code == 200
    assert discovery.headers["Content-Type"].split(";")[0] == "application/json"


def test_issuer_matches_the_discovery_url_and_is_a_valid_url(live_server, config) -> None:
    assert config["issuer"] == live_server.url  # OIDCD-4.3: the URL discovery was fetched under
    parts = urlsplit(config["issuer"])
    assert parts.scheme in ("https", "http") and parts.netloc and not parts.query and not parts.fragment


def test_response_types_and_subject_types(config) -> None:
    assert "code" in config["response_types_supported"]
    assert config["subject_types_supported"] and set(config["subject_types_supported"]) <= {"public", "pairwise"}


def test_id_token_signing_algs_include_rs256_and_never_none(config) -> None:
    algs = config["id_token_signing_alg_values_supported"]
    assert "RS256" in algs and "none" not in algs


def test_endpoints_are_absolute_urls_on_the_issuers_scheme(config) -> None:
    """CheckDiscEndpointAllEndpointsAreHttps, adapted to the loopback test server: every
    endpoint uses the issuer's own scheme and host (https in production)."""
    issuer = urlsplit(config["issuer"])
    endpoints = {k: v for k, v in config.items() if k.endswith("_endpoint") or k == "jwks_uri"}
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"):
        assert name in endpoints, name
    for name, url in endpoints.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == (issuer.scheme, issuer.netloc), name


def test_jwks_is_valid_has_kids_and_no_private_or_symmetric_keys(jwks) -> None:
    keys = jwks["keys"]
    assert keys
    kids = [k["kid"] for k in keys]
    assert len(kids) == len(set(kids))
    for key in keys:
        assert key["kty"] in ("RSA", "EC", "OKP") and not PRIVATE_MEMBERS & key.keys()
        jwt.PyJWK(key)  # parses as a usable public key
    assert any(k["kty"] == "RSA" for k in keys), "RS256 needs an RSA key"


def test_request_objects_and_claims_parameter_are_declared_unsupported(config) -> None:
    """request_uri_parameter_supported defaults to true when omitted, so it must be said."""
    assert config["request_parameter_supported"] is False
    assert config["request_uri_parameter_supported"] is False
    assert config["claims_parameter_supported"] is False


def test_claims_grant_types_scopes_and_pkce(config) -> None:
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email"} <= set(config["claims_supported"])
    assert "authorization_code" in config["grant_types_supported"]
    assert "implicit" not in config["grant_types_supported"]  # no response type issues tokens from here
    assert {"openid", "profile", "email", "offline_access"} <= set(config["scopes_supported"])
    assert all(SCOPE_TOKEN.match(s) for s in config["scopes_supported"])
    methods = config["code_challenge_methods_supported"]
    assert isinstance(methods, list) and "S256" in methods


def test_back_channel_logout_is_announced(config) -> None:
    """oidcc-backchannel-rp-initiated-logout's discovery checks."""
    assert config["backchannel_logout_supported"] is True
    assert config["backchannel_logout_session_supported"] is True


def test_rfc8414_metadata_carries_the_same_fields(live_server, config) -> None:
    oauth = requests.get(live_server.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    for name in ("userinfo_endpoint", "end_session_endpoint", "id_token_signing_alg_values_supported",
                 "subject_types_supported", "claims_supported"):
        assert oauth[name] == config[name], name


# --- Basic OP -----------------------------------------------------------------------------------

@dataclass
class RelyingParty:
    """What the suite plays: a registered client and a browser with a person signed in or not."""

    server_url: str
    config: dict[str, Any]
    jwks: dict[str, Any]
    client_id: str
    client_secret: str
    username: str
    password: str
    subject: str
    browser: requests.Session = field(default_factory=requests.Session)

    def authorization_url(self, **extra: str) -> tuple[str, dict[str, str]]:
        verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT, "scope": SCOPE,
                  "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                  "code_challenge": challenge, "code_challenge_method": "S256", **extra}
        params = {k: v for k, v in params.items() if v != ""}
        return self.config["authorization_endpoint"] + "?" + urlencode(params), {**params, "verifier": verifier}

    def sign_in_and_consent(self, url: str) -> str:
        return approve(url, self.username, self.password, session=self.browser)

    def redeem(self, landed: str, sent: dict[str, str], *, post_auth: bool = False) -> dict[str, Any]:
        answer = query_of(landed)
        assert answer.get("state") == sent["state"] and answer["iss"] == self.config["issuer"], answer
        data = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": REDIRECT,
                "code_verifier": sent["verifier"]}
        if post_auth:
            resp = requests.post(self.config["token_endpoint"], timeout=10,
                                 data={**data, "client_id": self.client_id, "client_secret": self.client_secret})
        else:
            resp = requests.post(self.config["token_endpoint"], data=data, auth=(self.client_id, self.client_secret),
                                 timeout=10)
        assert resp.status_code == 200, resp.text
        tokens: dict[str, Any] = resp.json()
        return tokens

    def login(self, **extra: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        """The happy flow (oidcc-server): tokens, the validated ID token claims, what was sent."""
        url, sent = self.authorization_url(**extra)
        tokens = self.redeem(self.sign_in_and_consent(url), sent)
        return tokens, self.validate_id_token(tokens, nonce=sent.get("nonce")), sent

    def validate_id_token(self, tokens: dict[str, Any], nonce: str | None) -> dict[str, Any]:
        """ValidateIdToken + ValidateIdTokenSignatureUsingKid + ValidateIdTokenNonce, by PyJWT."""
        raw = tokens["id_token"]
        header = jwt.get_unverified_header(raw)
        assert header["alg"] == "RS256" and "kid" in header
        (key,) = [k for k in self.jwks["keys"] if k["kid"] == header["kid"]]
        claims: dict[str, Any] = jwt.decode(
            raw, jwt.PyJWK(key).key, algorithms=["RS256"], audience=self.client_id, issuer=self.config["issuer"],
            options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]},
        )
        assert claims["sub"] == self.subject
        assert claims["aud"] == self.client_id or claims["aud"] == [self.client_id]
        assert abs(claims["iat"] - time.time()) < 300 and claims["exp"] > claims["iat"]
        if nonce is None:
            assert "nonce" not in claims
        else:
            assert claims["nonce"] == nonce
        digest = hashlib.sha256(tokens["access_token"].encode("ascii")).digest()
        assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
        return claims

    def userinfo(self, access_token: str, how: str = "get") -> requests.Response:
        endpoint = self.config["userinfo_endpoint"]
        if how == "post-body":
            return requests.post(endpoint, data={"access_token": access_token}, timeout=10)
        method = requests.get if how == "get" else requests.post
        return method(endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)

    def end_user_sessions_signed_in_before(self, age: timedelta) -> None:
        """Move this person's sign-in back in time (what the suite's max_age=1 sleeps for)."""
        user = db.session.scalar(db.select(User).where(User.username == self.username))
        assert user is not None
        for row in db.session.scalars(db.select(Session).where(Session.user_id == user.id, Session.ended_at.is_(None))):
            row.auth_time = row.auth_time - age
        db.session.commit()


def _is_login_page(browser: requests.Session, resp: requests.Response) -> bool:
    """Whether the server answered with its sign-in page (directly or by redirect)."""
    def same_server(location: str) -> bool:
        return urlsplit(location).netloc in ("", urlsplit(resp.url).netloc)

    while resp.status_code in (302, 303) and same_server(resp.headers["Location"]):
        resp = browser.get(urljoin(resp.url, resp.headers["Location"]), allow_redirects=False, timeout=10)
    return resp.status_code == 200 and 'name="password"' in resp.text


@pytest.fixture
def rp(app, live_server, make_client, make_user, config, jwks) -> RelyingParty:
    username, password = make_user()
    done = live_server.cli("users", "update", username, "--name", NAME, "--email", EMAIL, "--email-verified")
    assert done.returncode == 0, done.stderr
    user = db.session.scalar(db.select(User).where(User.username == username))
    assert user is not None
    client = make_client(name="Conformance RP", scope=SCOPE, grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[REDIRECT], post_logout_redirect_uris=[SIGNED_OUT])
    assert client.client_secret is not None
    return RelyingParty(live_server.url, config, jwks, client.client_id, client.client_secret, username, password,
                        f"user:{user.id}")


def test_oidcc_server(rp: RelyingParty) -> None:
    tokens, claims, _ = rp.login()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    assert {"sid", "amr", "azp"} <= claims.keys() and claims["azp"] == rp.client_id


def test_oidcc_server_client_secret_post(rp: RelyingParty) -> None:
    url, sent = rp.authorization_url()
    tokens = rp.redeem(rp.sign_in_and_consent(url), sent, post_auth=True)
    rp.validate_id_token(tokens, sent["nonce"])


def test_oidcc_response_type_missing(rp: RelyingParty) -> None:
    """The suite accepts an error page or an ``error`` back at the redirect URI."""
    rp.login()
    url, _ = rp.authorization_url(response_type="")
    resp = rp.browser.get(url, allow_redirects=False, timeout=10)
    if resp.status_code in (302, 303):
        assert query_of(resp.headers["Location"])["error"] in ("invalid_request", "unsupported_response_type")
    else:
        assert resp.status_code == 400 and "code=" not in resp.text


@pytest.mark.parametrize("how", ["get", "post-header", "post-body"])
def test_oidcc_userinfo(rp: RelyingParty, how: str) -> None:
    tokens, claims, _ = rp.login()
    resp = rp.userinfo(tokens["access_token"], how)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["sub"] == claims["sub"]


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(rp: RelyingParty) -> None:
    url, sent = rp.authorization_url(nonce="")
    rp.validate_id_token(rp.redeem(rp.sign_in_and_consent(url), sent), nonce=None)


@pytest.mark.parametrize(("scope", "expected"), [
    ("openid profile", {"sub", "name", "preferred_username", "updated_at"}),
    ("openid email", {"sub", "email", "email_verified"}),
    ("email openid", {"sub", "email", "email_verified"}),  # oidcc-ensure-other-scope-order-succeeds
    (SCOPE, {"sub", "name", "preferred_username", "updated_at", "email", "email_verified"}),  # oidcc-scope-all
])
def test_oidcc_scope(rp: RelyingParty, scope: str, expected: set[str]) -> None:
    tokens, _, _ = rp.login(scope=scope)
    info = rp.userinfo(tokens["access_token"]).json()
    assert set(info) == expected
    assert info.get("email", EMAIL) == EMAIL and info.get("name", NAME) == NAME
    assert info.get("email_verified", True) is True


@pytest.mark.parametrize("scope", ["openid address", "openid phone"])
def test_oidcc_scope_address_and_phone_are_not_offered(rp: RelyingParty, scope: str) -> None:
    """Not in scopes_supported, so the suite skips them; asking is an ``invalid_scope``."""
    assert scope.split()[1] not in rp.config["scopes_supported"]
    rp.login()
    url, sent = rp.authorization_url(scope=scope)
    answer = query_of(rp.browser.get(url, allow_redirects=False, timeout=10).headers["Location"])
    assert answer["error"] == "invalid_scope" and answer["state"] == sent["state"]


@pytest.mark.parametrize("extra", [
    {"display": "page"}, {"display": "popup"}, {"ui_locales": "se de-CH en"}, {"claims_locales": "se"},
    {"acr_values": "1 2"}, {"extra_parameter_unknown_to_the_server": "x"},
    {"claims": json.dumps({"userinfo": {"name": {"essential": True}}})},  # oidcc-claims-essential
])
def test_accepted_request_parameters(rp: RelyingParty, extra: dict[str, str]) -> None:
    """oidcc-display-*, -ui-locales, -claims-locales, -ensure-request-with-acr-values-succeeds,
    -ensure-request-with-unknown-parameter-succeeds, -claims-essential: the flow completes."""
    tokens, _, _ = rp.login(**extra)
    assert rp.userinfo(tokens["access_token"]).status_code == 200


def test_oidcc_prompt_login(rp: RelyingParty) -> None:
    _, first, _ = rp.login()
    url, _ = rp.authorization_url(prompt="login")
    assert _is_login_page(rp.browser, rp.browser.get(url, allow_redirects=False, timeout=10))
    rp.end_user_sessions_signed_in_before(timedelta(seconds=5))  # so a new sign-in is later
    _, second, _ = rp.login(prompt="login")
    assert second["auth_time"] > first["auth_time"] - 5


def test_oidcc_prompt_none_not_logged_in(rp: RelyingParty) -> None:
    url, sent = rp.authorization_url(prompt="none")
    resp = rp.browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303)
    answer = query_of(resp.headers["Location"])
    assert answer["error"] in ("login_required", "interaction_required") and answer["state"] == sent["state"]


def test_oidcc_prompt_none_logged_in(rp: RelyingParty) -> None:
    _, first, _ = rp.login()
    url, sent = rp.authorization_url(prompt="none")
    resp = rp.browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303)
    claims = rp.validate_id_token(rp.redeem(resp.headers["Location"], sent), sent["nonce"])
    assert claims["auth_time"] == first["auth_time"]


def test_oidcc_max_age_1(rp: RelyingParty) -> None:
    _, first, _ = rp.login()
    rp.end_user_sessions_signed_in_before(timedelta(seconds=2))
    url, _ = rp.authorization_url(max_age="1")
    assert _is_login_page(rp.browser, rp.browser.get(url, allow_redirects=False, timeout=10))
    _, second, _ = rp.login(max_age="1")
    assert second["auth_time"] > first["auth_time"] - 2


def test_oidcc_max_age_10000(rp: RelyingParty) -> None:
    _, first, _ = rp.login()
    url, sent = rp.authorization_url(max_age="10000")
    resp = rp.browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303) and "code" in query_of(resp.headers["Location"])
    claims = rp.validate_id_token(rp.redeem(resp.headers["Location"], sent), sent["nonce"])
    assert claims["auth_time"] == first["auth_time"]


def test_oidcc_id_token_hint(rp: RelyingParty) -> None:
    tokens, first, _ = rp.login()
    url, sent = rp.authorization_url(prompt="none", id_token_hint=tokens["id_token"])
    resp = rp.browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303)
    assert rp.validate_id_token(rp.redeem(resp.headers["Location"], sent), sent["nonce"])["sub"] == first["sub"]


def test_oidcc_login_hint(rp: RelyingParty) -> None:
    url, _ = rp.authorization_url(login_hint=rp.username)
    resp = rp.browser.get(url, timeout=10)
    assert re.search(rf'name="username"[^>]*value="{re.escape(rp.username)}"', resp.text) or \
        re.search(rf'value="{re.escape(rp.username)}"[^>]*name="username"', resp.text)


def test_oidcc_codereuse(rp: RelyingParty) -> None:
    """oidcc-codereuse and -codereuse-30seconds: a second redemption fails, and the tokens the
    first one issued stop working (RFC 6749 §4.1.2) — without waiting 30 seconds."""
    url, sent = rp.authorization_url()
    landed = rp.sign_in_and_consent(url)
    tokens = rp.redeem(landed, sent)
    again = requests.post(rp.config["token_endpoint"], auth=(rp.client_id, rp.client_secret), timeout=10, data={
        "grant_type": "authorization_code", "code": query_of(landed)["code"], "redirect_uri": REDIRECT,
        "code_verifier": sent["verifier"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_oidcc_ensure_registered_redirect_uri(rp: RelyingParty) -> None:
    url, _ = rp.authorization_url(redirect_uri="https://attacker.example/callback")
    resp = rp.browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 400 and "attacker.example" not in resp.headers.get("Location", "")


def test_oidcc_ensure_post_request_succeeds(rp: RelyingParty) -> None:
    rp.login()
    url, sent = rp.authorization_url()
    resp = rp.browser.post(rp.config["authorization_endpoint"], data=query_of(url), allow_redirects=False, timeout=10)
    landed = resp.headers["Location"] if resp.status_code in (302, 303) and "code=" in resp.headers["Location"] \
        else rp.sign_in_and_consent(url)
    rp.validate_id_token(rp.redeem(landed, sent), sent["nonce"])


@pytest.mark.parametrize(("parameter", "error"), [
    ("request", "request_not_supported"), ("request_uri", "request_uri_not_supported"),
])
def test_request_objects_are_rejected_as_unsupported(rp: RelyingParty, parameter: str, error: str) -> None:
    """oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported and
    oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported."""
    rp.login()
    value = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9." if parameter == "request" else "https://rp.example/r"
    url, sent = rp.authorization_url(**{parameter: value})
    answer = query_of(rp.browser.get(url, allow_redirects=False, timeout=10).headers["Location"])
    assert answer["error"] == error and answer["state"] == sent["state"] and "code" not in answer


def test_oidcc_refresh_token(rp: RelyingParty) -> None:
    tokens, first, _ = rp.login()
    resp = requests.post(rp.config["token_endpoint"], auth=(rp.client_id, rp.client_secret), timeout=10,
                         data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert resp.status_code == 200, resp.text
    refreshed = rp.validate_id_token(resp.json(), nonce=None)
    for claim in ("sub", "auth_time", "sid"):
        assert refreshed[claim] == first[claim], claim


def test_oidcc_ensure_request_with_valid_pkce_succeeds_and_a_wrong_verifier_fails(rp: RelyingParty) -> None:
    url, sent = rp.authorization_url()
    landed = rp.sign_in_and_consent(url)
    wrong = requests.post(rp.config["token_endpoint"], auth=(rp.client_id, rp.client_secret), timeout=10, data={
        "grant_type": "authorization_code", "code": query_of(landed)["code"], "redirect_uri": REDIRECT,
        "code_verifier": pkce_pair()[0]})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    url, sent = rp.authorization_url()
    rp.validate_id_token(rp.redeem(rp.sign_in_and_consent(url), sent), sent["nonce"])


def test_unsigned_id_tokens_cannot_be_registered(make_client) -> None:
    """oidcc-idtoken-unsigned: the server does not offer ``none``, so registering it fails."""
    with pytest.raises(InvalidClientMetadata, match="id_token_signed_response_alg"):
        make_client(scope=SCOPE, grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                    id_token_signed_response_alg="none")


# --- RP-Initiated Logout plan -------------------------------------------------------------------

def _logout(rp: RelyingParty, **params: str) -> requests.Response:
    return rp.browser.get(rp.config["end_session_endpoint"], params=params, allow_redirects=False, timeout=10)


def _signed_in(rp: RelyingParty) -> bool:
    return rp.browser.get(rp.server_url + "/account", allow_redirects=False, timeout=10).status_code == 200


def test_oidcc_rp_initiated_logout(rp: RelyingParty) -> None:
    tokens, _, _ = rp.login()
    resp = _logout(rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT, state="s1")
    assert resp.status_code in (302, 303)
    assert resp.headers["Location"].split("?")[0] == SIGNED_OUT and query_of(resp.headers["Location"])["state"] == "s1"
    assert not _signed_in(rp)


@pytest.mark.parametrize("variant", ["bad-signature", "bad-redirect", "query-added", "no-hint"])
def test_rp_initiated_logout_never_redirects_unverified(rp: RelyingParty, variant: str) -> None:
    """oidcc-rp-initiated-logout-bad-id-token-hint / -modified-id-token-hint /
    -bad-post-logout-redirect-uri / -query-added-to-post-logout-redirect-uri /
    -no-id-token-hint: the OP shows a page (an error, or a confirmation) and redirects nowhere."""
    tokens, _, _ = rp.login()
    hint = tokens["id_token"]
    params = {"id_token_hint": hint, "post_logout_redirect_uri": SIGNED_OUT, "state": "s2"}
    if variant == "bad-signature":
        head, body, signature = hint.split(".")
        params["id_token_hint"] = f"{head}.{body}.{signature[::-1]}"
    elif variant == "bad-redirect":
        params["post_logout_redirect_uri"] = "https://attacker.example/signed-out"
    elif variant == "query-added":
        params["post_logout_redirect_uri"] = SIGNED_OUT + "?extra=1"
    else:
        del params["id_token_hint"]
    resp = _logout(rp, **params)
    assert resp.status_code in (200, 400) and "Location" not in resp.headers
    assert "attacker.example" not in resp.text
