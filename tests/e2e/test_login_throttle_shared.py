"""The sign-in limit holds across gunicorn workers and across servers on one database,
without Redis: the real server, fresh connections, so requests land on any worker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import requests

from authserver.appstate import state

from ..authserver.authorize_helpers import csrf_of
from ..conftest import LiveServer, start_server, stop_server
from ..databases import free_port


def _sign_in(url: str, username: str, password: str) -> requests.Response:
    with requests.Session() as http:  # a new connection each time: any worker may answer
        form = {"csrf_token": csrf_of(http.get(url + "/login", timeout=5).text), "username": username,
                "password": password}
        return http.post(url + "/login", data=form, allow_redirects=False, timeout=5)


def test_two_servers_with_two_workers_allow_exactly_the_limit(
    live_server: LiveServer, server_settings: dict[str, Any], migrated_app, make_user, tmp_path: Path
) -> None:
    limit = state(migrated_app).settings.login_max_failures
    name, password = make_user()
    second = start_server({**server_settings, "issuer": f"http://127.0.0.1:{free_port()}"}, tmp_path / "second.log")
    try:
        urls = [live_server.url, second.url]
        failures = [_sign_in(urls[i % 2], name, "wrong password").status_code for i in range(limit)]
        assert failures == [400] * limit
        refused = [_sign_in(url, name, password) for url in urls * 3]  # even the right password waits
        assert [r.status_code for r in refused] == [429] * 6
        assert all(0 < int(r.headers["Retry-After"]) <= 60 for r in refused)
    finally:
        stop_server(second)


def test_a_burst_of_simultaneous_guesses_gets_exactly_the_limit_checked(
    live_server: LiveServer, migrated_app, make_user
) -> None:
    """Twenty wrong passwords sent at once, across the workers: exactly the limit are checked
    (400), every other one is refused unchecked (429), so a burst buys no extra guesses."""
    limit = state(migrated_app).settings.login_max_failures
    name, _ = make_user()
    forms = []
    for _ in range(20):  # fetch every form first, so the posts themselves go out together
        http = requests.Session()
        forms.append((http, csrf_of(http.get(live_server.url + "/login", timeout=5).text)))
    start = Barrier(10)

    def guess(form: tuple[requests.Session, str]) -> requests.Response:
        http, token = form
        with http:
            start.wait()
            return http.post(live_server.url + "/login", allow_redirects=False, timeout=30,
                             data={"csrf_token": token, "username": name, "password": "wrong"})

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(guess, forms))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [400] * limit + [429] * (20 - limit)
    assert all(0 < int(r.headers["Retry-After"]) <= 60 for r in answers if r.status_code == 429)
