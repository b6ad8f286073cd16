"""Property-based attacks on the token, authorization, introspection and revocation
endpoints (hypothesis, bounded example counts): whatever the parameters, never a 5xx, and
never an accept of what must be refused (a wrong secret, another client's code, a wrong
verifier, a foreign token)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.oauth2.base import invalid_error_characters
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .authorize_helpers import REDIRECT, query_of, signed_in_flow
from .helpers import basic, introspect

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RFC6749_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                  "unsupported_grant_type", "invalid_scope", "invalid_target", "temporarily_unavailable"}

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['"', "\\", "bücher", "\x00", "a" * 3000, "asat_", "asrt_x", "asac_x", "eyJ.eyJ.x", " ", ""]),
)
params = st.dictionaries(
    st.sampled_from(["grant_type", "scope", "resource", "code", "refresh_token", "code_verifier", "redirect_uri",
                     "client_id", "client_secret", "token", "token_type_hint", "audience", "state"]),
    hostile_text, max_size=6,
)
AUTH_KINDS = ["right", "wrong_secret", "other_client", "none", "garbage", "post_right", "post_wrong"]


@pytest.fixture
def machine(make_client):
    return make_client(name="Machine", scope="reports:read reports:write")


@pytest.fixture
def other(make_client):
    return make_client(name="Other", scope="reports:read")


def _authed(kind: str, me, other, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    form = {k: v for k, v in form.items() if k not in ("client_id", "client_secret")} if kind != "none" else form
    if kind == "right":
        return basic(*me.basic), form
    if kind == "wrong_secret":
        return basic(me.client_id, me.client_secret + "x"), form
    if kind == "other_client":
        return basic(other.client_id, me.client_secret), form
    if kind == "garbage":
        return {"Authorization": "Basic " + base64.b64encode(b"\xff\x00:").decode()}, form
    if kind.startswith("post"):
        secret = me.client_secret if kind == "post_right" else me.client_secret[:-1]
        return {}, {**form, "client_id": me.client_id, "client_secret": secret}
    return {}, form


def _json_error(resp: Any) -> str:
    """The RFC 6749 §5.2 error; its description keeps to the RFC's printable ASCII without
    ``"`` and ``\\``, whatever the request held."""
    body = resp.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), resp.get_data(as_text=True)[:200]
    assert not invalid_error_characters(body.get("error_description", "")), body
    return str(body["error"])


def test_token_endpoint_never_fails_and_never_accepts_wrong_credentials(app: Flask, machine, other) -> None:
    http = app.test_client()

    @SETTINGS
    @given(form=params, kind=st.sampled_from(AUTH_KINDS))
    def attack(form: dict[str, str], kind: str) -> None:
        headers, data = _authed(kind, machine, other, form)
        resp = http.post("/oauth/token", data=data, headers=headers)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        if resp.status_code == 200:
            assert kind in ("right", "post_right") and form.get("grant_type") == "client_credentials"
            assert resp.get_json()["token_type"] == "Bearer"
        else:
            assert _json_error(resp) in RFC6749_ERRORS
        if kind in ("wrong_secret", "other_client", "garbage", "post_wrong"):
            assert resp.status_code in (400, 401)

    attack()


def test_a_code_is_redeemed_only_by_its_client_verifier_and_redirect_uri(
    app: Flask, make_user, make_client, other
) -> None:
    public = make_client(name="Native", scope="reports:read", grant_types=["authorization_code"],
                         redirect_uris=[REDIRECT], public=True)
    flow = signed_in_flow(app, make_user, public.client_id)
    code = flow.code()

    @SETTINGS
    @given(verifier=st.one_of(hostile_text, st.just(flow.verifier + "x"), st.just(flow.verifier[:-1])),
           client=st.sampled_from(["mine", "other", "none"]),
           redirect=st.sampled_from([REDIRECT, REDIRECT + "/", "https://evil.example/callback", None]),
           right_verifier=st.booleans())
    def attack(verifier: str, client: str, redirect: str | None, right_verifier: bool) -> None:
        form: dict[str, Any] = {"code_verifier": flow.verifier if right_verifier else verifier,
                                "redirect_uri": redirect}
        if client == "mine" and right_verifier and redirect == REDIRECT:
            return  # the one correct combination is redeemed below, once
        if client == "other":
            resp = flow.redeem(code, auth=other.basic, **form)
        else:
            resp = flow.redeem(code, client_id=public.client_id if client == "mine" else None, **form)
        assert resp.status_code in (400, 401), resp.get_data(as_text=True)[:300]
        assert _json_error(resp) in RFC6749_ERRORS

    attack()
    assert flow.redeem(code).status_code == 200  # the refusals did not use the code up
    assert flow.redeem(code).status_code == 400  # and it is single use


def test_authorization_endpoint_never_fails_and_sends_codes_only_home(app: Flask, make_user, make_client) -> None:
    web = make_client(name="Web", scope="reports:read", grant_types=["authorization_code"], redirect_uris=[REDIRECT])
    flow = signed_in_flow(app, make_user, web.client_id)
    anonymous = app.test_client()
    names = ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
             "code_challenge_method", "resource", "prompt", "nonce"]
    base = {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT,
            "code_challenge": flow.challenge, "code_challenge_method": "S256", "state": "s"}

    @SETTINGS
    @given(changes=st.dictionaries(st.sampled_from(names), st.one_of(hostile_text, st.none()), max_size=3),
           repeat=st.sampled_from([None, *names]))
    def attack(changes: dict[str, str | None], repeat: str | None) -> None:
        query = {k: v for k, v in {**base, **changes}.items() if v is not None}
        pairs = [*query.items(), *([(repeat, "again")] if repeat else [])]
        url = "/oauth/authorize?" + urlencode(pairs)
        for resp in (anonymous.get(url), flow.http.get(url)):
            assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
            location = resp.headers.get("Location", "")
            if "code=" in location.split("?", 1)[-1] and location.startswith(REDIRECT):
                got = query_of(location)
                assert query["client_id"] == web.client_id and query.get("redirect_uri", REDIRECT) == REDIRECT
                assert got.get("state") == query.get("state") and "error" not in got
            elif location:
                assert location.startswith((REDIRECT + "?", "/login?")), location

    attack()


def test_introspection_never_fails_and_answers_only_authenticated_clients(app: Flask, machine, other) -> None:
    live = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                  headers=basic(*machine.basic)).get_json()["access_token"]
    http = app.test_client()

    @SETTINGS
    @given(form=params, kind=st.sampled_from(AUTH_KINDS), value=hostile_text)
    def attack(form: dict[str, str], kind: str, value: str) -> None:
        headers, data = _authed(kind, machine, other, {**form, "token": value})
        resp = http.post("/oauth/introspect", data=data, headers=headers)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        if kind in ("wrong_secret", "other_client", "garbage", "post_wrong", "none"):
            assert resp.status_code in (400, 401) and "active" not in resp.get_json()
        elif resp.status_code == 200:
            assert resp.get_json()["active"] is (value == live)

    attack()


def test_revocation_never_fails_and_never_revokes_another_clients_token(app: Flask, machine, other) -> None:
    mine = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                  headers=basic(*machine.basic)).get_json()["access_token"]
    http = app.test_client()

    @SETTINGS
    @given(form=params, kind=st.sampled_from(AUTH_KINDS), value=st.one_of(hostile_text, st.just(mine)))
    def attack(form: dict[str, str], kind: str, value: str) -> None:
        headers, data = _authed(kind, other, machine, {**form, "token": value})  # the other client attacks
        resp = http.post("/oauth/revoke", data=data, headers=headers)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        if kind in ("wrong_secret", "other_client", "garbage", "post_wrong", "none"):
            assert resp.status_code in (400, 401)

    attack()
    assert introspect(app, machine.basic, mine).get_json()["active"] is True


def test_any_basic_credentials_are_refused_without_a_server_error(app: Flask, machine) -> None:
    http = app.test_client()

    @SETTINGS
    @given(client_id=hostile_text.filter(lambda s: ":" not in s), secret=hostile_text,
           path=st.sampled_from(["/oauth/token", "/oauth/introspect", "/oauth/revoke"]))
    def attack(client_id: str, secret: str, path: str) -> None:
        resp = http.post(path, data={"grant_type": "client_credentials", "token": "asat_x"},
                         headers=basic(client_id, secret))
        assert resp.status_code in (400, 401), resp.get_data(as_text=True)[:300]
        assert _json_error(resp) == "invalid_client" or resp.status_code == 400

    attack()
