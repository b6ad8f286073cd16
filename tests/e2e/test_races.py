"""Single use under concurrency, on PostgreSQL with four gunicorn workers: of 16
simultaneous redemptions of one code, or refreshes of one refresh token, one at most
succeeds, and the losers' reuse leaves no live token in the grant family."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import Token

from ..conftest import LiveServer, start_server, stop_server
from ..databases import free_port
from .authorize_flow import approve, pkce_pair, query_of

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RACERS = 16
ROUNDS = 3
REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture(scope="module")
def race_server(
    server_settings: dict[str, Any], migrated_app: Flask, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    if not server_settings["database_url"].startswith("postgresql"):
        pytest.skip("race tests run on PostgreSQL: SQLite serialises every writer, so nothing races")
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}"}
    server = start_server(settings, tmp_path_factory.mktemp("race") / "server.log", workers=4)
    yield server
    stop_server(server)


def _all_at_once(count: int, request: Any) -> list[requests.Response]:
    """``count`` threads released together by a barrier, each making one request."""
    barrier = threading.Barrier(count)

    def run(_: int) -> requests.Response:
        with requests.Session() as http:
            barrier.wait(timeout=30)
            return request(http)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _introspect(url: str, rs, value: str) -> dict[str, Any]:
    return requests.post(url + "/oauth/introspect", data={"token": value}, auth=rs.basic, timeout=10).json()


def _live_in_family(app: Flask, family_id: str) -> list[Token]:
    with app.app_context():
        return list(db.session.scalars(select(Token).where(Token.family_id == family_id, Token.revoked_at.is_(None))))


def _family_of(app: Flask, refresh_token: str) -> str:
    with app.app_context():
        row = state(app).tokens.find(refresh_token)
        assert row is not None and row.family_id
        return row.family_id


@pytest.fixture
def native(make_client):
    return make_client(name="Racer", scope="reports:read", grant_types=["authorization_code", "refresh_token"],
                       redirect_uris=[REDIRECT], public=True)


def _code(server: LiveServer, client_id: str, user: tuple[str, str]) -> tuple[str, str]:
    """A fresh authorization code for ``user`` (name, password), and its PKCE verifier."""
    verifier, challenge = pkce_pair()
    url = server.url + "/oauth/authorize?" + requests.compat.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "r",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    return query_of(approve(url, *user, session=requests.Session()))["code"], verifier


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_code_redemption_succeeds_exactly_once(
    race_server: LiveServer, migrated_app: Flask, native, make_client, make_user, round_: int
) -> None:
    rs = make_client(scope="")
    code, verifier = _code(race_server, native.client_id, make_user())
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": native.client_id, "code_verifier": verifier}
    responses = _all_at_once(RACERS, lambda http: http.post(race_server.url + "/oauth/token", data=form, timeout=30))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (RACERS - 1), statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    # the losers were replays, so what the winner got is revoked with its family
    winner = next(r.json() for r in responses if r.status_code == 200)
    for value in (winner["access_token"], winner["refresh_token"]):
        assert _introspect(race_server.url, rs, value) == {"active": False}
    assert _live_in_family(migrated_app, _family_of(migrated_app, winner["refresh_token"])) == []


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_refresh_succeeds_at_most_once_and_leaves_nothing_alive(
    race_server: LiveServer, migrated_app: Flask, native, make_client, make_user, round_: int
) -> None:
    rs = make_client(scope="")
    code, verifier = _code(race_server, native.client_id, make_user())
    granted = requests.post(race_server.url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": native.client_id, "code_verifier": verifier}, timeout=10).json()
    family = _family_of(migrated_app, granted["refresh_token"])
    form = {"grant_type": "refresh_token", "refresh_token": granted["refresh_token"], "client_id": native.client_id}
    responses = _all_at_once(RACERS, lambda http: http.post(race_server.url + "/oauth/token", data=form, timeout=30))

    ok = [r.json() for r in responses if r.status_code == 200]
    assert len(ok) <= 1, [r.status_code for r in responses]
    assert all(r.status_code == 400 and r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)
    seen = [granted["access_token"], granted["refresh_token"]]
    seen += [t[k] for t in ok for k in ("access_token", "refresh_token")]
    for value in seen:
        assert _introspect(race_server.url, rs, value) == {"active": False}
    assert _live_in_family(migrated_app, family) == []
