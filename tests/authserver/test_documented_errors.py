"""Every refusal in the table of docs/reference/endpoints.md ("Refusals, as the test suite produces them") is
produced against the app, with the documented status and ``error``. A row without a way to
produce it here, or a producer without its row, fails the test: the table and the server
cannot drift apart."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver import create_app
from authserver.appstate import state
from authserver.oauth.grants import MAX_RESOURCES
from tests.docs_tables import docs_table

from .authorize_helpers import REDIRECT, authorize_url, consent, pkce_pair, query_of, refresh, signed_in_flow
from .helpers import basic

HEADING = "Refusals, as the test suite produces them"


@dataclass(frozen=True)
class Row:
    situation: str
    endpoint: str
    status: int
    error: str | None
    page: bool
    retry_after: bool
    basic_challenge: bool


def documented_rows() -> list[Row]:
    rows: list[Row] = []
    for situation, endpoint, status, error in docs_table(HEADING):
        found = re.match(r"\d{3}", status)
        assert found, status
        rows.append(Row(situation, endpoint, int(found.group()), None if error == "—" else error.strip("`"),
                        "page" in status, "Retry-After" in status, "WWW-Authenticate: Basic" in status))
    return rows


@dataclass
class World:
    """What the producers need: the app, a confidential and a public client, a person."""

    app: Flask
    machine: tuple[str, str]
    other: tuple[str, str]
    web: str
    make_user: Callable[[], tuple[str, str]]

    def post(self, path: str, data: dict[str, str] | None = None, **kw: object) -> TestResponse:
        return self.app.test_client().post(path, data=data, **kw)


Producer = Callable[[World], Iterator[TestResponse]]
MACHINE_ENDPOINTS = ("/oauth/token", "/oauth/introspect", "/oauth/revoke")


def _bad_client_auth(w: World) -> Iterator[TestResponse]:
    for path in MACHINE_ENDPOINTS:
        form = {"grant_type": "client_credentials", "token": "asat_x"}
        yield w.post(path, form, headers=basic("no-such-client", "x"))
        yield w.post(path, form, headers=basic(w.machine[0], w.machine[1] + "x"))
        yield w.post(path, form, headers={"Authorization": "Basic %%%"})


def _wrong_secret_in_form(w: World) -> Iterator[TestResponse]:
    yield w.post("/oauth/token", {"grant_type": "client_credentials", "client_id": w.machine[0],
                                  "client_secret": w.machine[1] + "x"})


def _no_client_auth(w: World) -> Iterator[TestResponse]:
    for path in MACHINE_ENDPOINTS[1:]:
        yield w.post(path, {"token": "asat_x"})


def _unsupported_grant(w: World) -> Iterator[TestResponse]:
    password = {"grant_type": "password", "username": "a", "password": "b"}
    for grant in ({"scope": "reports:read"}, password, {"grant_type": "urn:x"}):
        yield w.post("/oauth/token", grant, headers=basic(*w.machine))


def _unauthorized_client(w: World) -> Iterator[TestResponse]:
    yield w.post("/oauth/token", {"grant_type": "authorization_code", "code": "asac_x", "redirect_uri": REDIRECT},
                 headers=basic(*w.machine))


def _token_invalid_scope(w: World) -> Iterator[TestResponse]:
    yield w.post("/oauth/token", {"grant_type": "client_credentials", "scope": "admin"}, headers=basic(*w.machine))


def _token_invalid_target(w: World) -> Iterator[TestResponse]:
    yield w.post("/oauth/token", {"grant_type": "client_credentials", "resource": "https://elsewhere.example"},
                 headers=basic(*w.machine))


def _too_many_resources(w: World) -> Iterator[TestResponse]:
    resources = [f"https://api{i}.example" for i in range(MAX_RESOURCES + 1)]
    body = urlencode([("grant_type", "client_credentials"), *(("resource", r) for r in resources)])
    yield w.app.test_client().post("/oauth/token", data=body, content_type="application/x-www-form-urlencoded",
                                   headers=basic(*w.machine))


def _bad_codes(w: World) -> Iterator[TestResponse]:
    flow = signed_in_flow(w.app, w.make_user, w.web)
    code = flow.code()
    yield flow.redeem("asac_" + "x" * 40)
    yield flow.redeem(code, redirect_uri=REDIRECT + "/other")
    yield flow.redeem(code, code_verifier=pkce_pair()[0])
    yield flow.redeem(code, auth=w.other, client_id=None)
    assert flow.redeem(code).status_code == 200
    yield flow.redeem(code)  # already used


def _bad_refresh_tokens(w: World) -> Iterator[TestResponse]:
    flow = signed_in_flow(w.app, w.make_user, w.web)
    first = flow.redeem(flow.code()).get_json()["refresh_token"]
    yield refresh(w.app, "asrt_unknown", w.web)
    yield refresh(w.app, first, auth=w.other)
    assert refresh(w.app, first, w.web).status_code == 200
    yield refresh(w.app, first, w.web)  # rotated (and now the family is revoked)


def _malformed(w: World) -> Iterator[TestResponse]:
    auth = basic(*w.machine)
    for path in MACHINE_ENDPOINTS:
        yield w.post(path, json={"grant_type": "client_credentials"}, headers=auth)
        yield w.post(path + "?grant_type=client_credentials", {"token": "x"}, headers=auth)
        yield w.post(path, "grant_type=client_credentials&token=x&token=y&scope=a&scope=b",  # type: ignore[arg-type]
                     headers=auth, content_type="application/x-www-form-urlencoded")
        yield w.post(path, {"grant_type": "client_credentials", "token": "a\x00b"}, headers=auth)
        yield w.post(path, {"grant_type": "client_credentials", "token": "x", "client_secret": w.machine[1]},
                     headers=auth)


def _oversized(w: World) -> Iterator[TestResponse]:
    size = state(w.app).settings.max_form_bytes
    yield w.post("/oauth/token", {"grant_type": "client_credentials", "scope": "a" * size}, headers=basic(*w.machine))


def _unreachable_app(tmp: Path) -> Flask:
    """The app on a database it cannot open: every read fails as an outage does."""
    return create_app({"database_url": f"sqlite:///{tmp}/missing/dir/authserver.sqlite3",
                       "instance_path": str(tmp / "instance"), "secret_key": "down-" + uuid.uuid4().hex})


def _database_down(w: World) -> Iterator[TestResponse]:
    down = _unreachable_app(Path(w.app.instance_path) / uuid.uuid4().hex).test_client()
    for path in MACHINE_ENDPOINTS:
        yield down.post(path, data={"grant_type": "client_credentials", "token": "asat_x"}, headers=basic(*w.machine))


def _authorize_page(w: World) -> Iterator[TestResponse]:
    http = w.app.test_client()
    yield http.get(authorize_url("no-such-client"))
    yield http.get("/oauth/authorize?response_type=code&redirect_uri=" + REDIRECT)
    yield http.get(authorize_url(w.web, "https://evil.example/callback", pkce_pair()[1]))


def _signed_in(w: World) -> FlaskClient:
    return signed_in_flow(w.app, w.make_user, w.web).http


def _authorize_unsupported(w: World) -> Iterator[TestResponse]:
    http = _signed_in(w)
    for response_type in ("token", "code id_token", "bücher"):
        yield http.get(authorize_url(w.web, challenge=pkce_pair()[1], response_type=response_type))


def _authorize_invalid_scope(w: World) -> Iterator[TestResponse]:
    yield _signed_in(w).get(authorize_url(w.web, challenge=pkce_pair()[1], scope="admin"))


def _authorize_no_pkce(w: World) -> Iterator[TestResponse]:
    http = _signed_in(w)
    yield http.get(authorize_url(w.web))
    yield http.get(authorize_url(w.web, code_challenge=pkce_pair()[1], code_challenge_method="plain"))


def _authorize_denied(w: World) -> Iterator[TestResponse]:
    yield consent(_signed_in(w), authorize_url(w.web, challenge=pkce_pair()[1]), decision="deny")


def _authorize_login_required(w: World) -> Iterator[TestResponse]:
    yield w.app.test_client().get(authorize_url(w.web, challenge=pkce_pair()[1], prompt="none"))


def _authorize_database_down(w: World) -> Iterator[TestResponse]:
    down = _unreachable_app(Path(w.app.instance_path) / uuid.uuid4().hex).test_client()
    yield down.get(authorize_url(w.web, challenge=pkce_pair()[1]))


PRODUCERS: dict[tuple[str, str], Producer] = {
    ("unknown client, wrong secret, or a broken `Authorization: Basic` header", "token, introspect, revoke"):
        _bad_client_auth,
    ("wrong `client_secret` in the form body", "token"): _wrong_secret_in_form,
    ("no client authentication", "introspect, revoke"): _no_client_auth,
    ("`grant_type` missing, or `password`, or unknown", "token"): _unsupported_grant,
    ("a grant type the client is not registered for", "token"): _unauthorized_client,
    ("a scope outside the client's registered scopes", "token"): _token_invalid_scope,
    ("a `resource` that is not one of the client's audiences", "token"): _token_invalid_target,
    ("more than 16 `resource` parameters", "token"): _too_many_resources,
    ("a code unknown, already used, issued to another client, or with the wrong redirect URI or verifier",
     "token"): _bad_codes,
    ("a refresh token unknown, rotated, revoked, or issued to another client", "token"): _bad_refresh_tokens,
    ("a JSON body, parameters in the URL, a repeated parameter, a NUL byte, two authentication methods",
     "token, introspect, revoke"): _malformed,
    ("a body over `AUTHSERVER_MAX_FORM_BYTES`", "token"): _oversized,
    ("the database unreachable", "token, introspect, revoke"): _database_down,
    ("unknown client, no `client_id`, or an unregistered `redirect_uri`", "authorize"): _authorize_page,
    ("a `response_type` other than `code`", "authorize"): _authorize_unsupported,
    ("a scope outside the client's registered scopes", "authorize"): _authorize_invalid_scope,
    ("no PKCE challenge, or `code_challenge_method=plain`", "authorize"): _authorize_no_pkce,
    ("the person presses Deny", "authorize"): _authorize_denied,
    ("`prompt=none` while signed out", "authorize"): _authorize_login_required,
    ("the database unreachable", "authorize"): _authorize_database_down,
}


def test_every_documented_row_has_a_producer_and_every_producer_a_row() -> None:
    assert {(r.situation, r.endpoint) for r in documented_rows()} == set(PRODUCERS)


@pytest.fixture
def world(app: Flask, make_client, make_user) -> World:
    machine = make_client(name="Machine", scope="reports:read", audiences=["https://api.example"])
    other = make_client(name="Other", scope="reports:read", grant_types=["authorization_code", "refresh_token"],
                        redirect_uris=[REDIRECT])
    web = make_client(name="Web", scope="reports:read", grant_types=["authorization_code", "refresh_token"],
                      redirect_uris=[REDIRECT], public=True)
    return World(app, machine.basic, other.basic, web.client_id, make_user)


def _check(row: Row, resp: TestResponse) -> None:
    where = f"{row.situation} at {row.endpoint}: {resp.status_code} {resp.get_data(as_text=True)[:200]}"
    assert resp.status_code == row.status, where
    if row.retry_after:
        assert resp.headers.get("Retry-After") == "1", where
    if row.basic_challenge:
        assert resp.headers.get("WWW-Authenticate", "").startswith("Basic"), where
    if row.endpoint == "authorize":
        if row.page:
            assert resp.mimetype == "text/html" and "Location" not in resp.headers, where
        else:
            location = resp.headers["Location"]
            assert location.startswith(REDIRECT + "?"), where
            assert query_of(location).get("error") == row.error, where
        return
    assert resp.get_json()["error"] == row.error, where


@pytest.mark.parametrize("row", documented_rows(), ids=lambda r: f"{r.endpoint}: {r.situation}"[:70])
def test_each_documented_refusal_is_produced_as_documented(world: World, row: Row) -> None:
    produced = list(PRODUCERS[(row.situation, row.endpoint)](world))
    assert produced
    for resp in produced:
        _check(row, resp)
