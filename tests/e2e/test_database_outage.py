"""A database outage under load, against the real gunicorn server on PostgreSQL.

The test's own database stops accepting connections and loses every backend for three
seconds (``ALLOW_CONNECTIONS false`` + ``pg_terminate_backend``; the shared PostgreSQL
server keeps running for everyone else) while clients request tokens, introspect and open
the authorization endpoint. Every answer is the normal one or a 503 with ``Retry-After``
(RFC 6749 ``temporarily_unavailable`` JSON at /oauth/*, an error page at the front
channel), never a 500; service comes back within seconds; every token answered 200 was
stored (it introspects active afterwards).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests
from flask_migrate import upgrade

from authserver.appstate import state

from ..conftest import BACKENDS, LiveServer, start_server, stop_server
from ..databases import PG_ADMIN, free_port, new_database

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.skipif("postgresql" not in BACKENDS, reason="an outage needs a database server")]

OUTAGE_SECONDS = 3.0
RECOVERY_BOUND = 5.0
MAX_REQUESTS_PER_THREAD = 5000


@dataclass
class Answer:
    at: float
    status: int
    retry_after: str | None
    content_type: str
    body: Any
    token: str | None = None


@dataclass
class Outage:
    server: LiveServer
    database: str
    client: tuple[str, str]
    answers: dict[str, list[Answer]] = field(default_factory=dict)


def _set_allow_connections(database: str, allow: bool) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"true" if allow else "false"}')
        if not allow:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))


@pytest.fixture(scope="module")
def outage_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    from authserver import create_app
    from authserver.clients.metadata import ClientMetadata
    from authserver.clients.registry import register_client
    from authserver.extensions import db

    tmp = tmp_path_factory.mktemp("outage")
    with new_database("postgresql", tmp) as url:
        settings = {"database_url": url, "instance_path": str(tmp / "instance"),
                    "secret_key": "outage-" + uuid.uuid4().hex, "issuer": f"http://127.0.0.1:{free_port()}"}
        app = create_app(settings)
        with app.app_context():
            upgrade()
            metadata = ClientMetadata(client_name="loader", grant_types=("client_credentials",), scope="reports:read")
            client, secret = register_client(state(app).hasher, metadata)
            assert secret is not None
            creds = (client.client_id, secret)
            db.session.remove()
            db.engine.dispose()
        server = start_server(settings, tmp / "server.log", workers=2)
        try:
            yield Outage(server, url.rsplit("/", 1)[1], creds)
        finally:
            stop_server(server)
            _set_allow_connections(url.rsplit("/", 1)[1], True)


def _answer(resp: requests.Response) -> Answer:
    is_json = resp.headers.get("Content-Type", "").startswith("application/json")
    body: Any = resp.json() if is_json else resp.text
    token = body.get("access_token") if is_json and resp.status_code == 200 else None
    return Answer(time.monotonic(), resp.status_code, resp.headers.get("Retry-After"),
                  resp.headers.get("Content-Type", ""), body, token)


def _load(until: threading.Event, call: Callable[[requests.Session], requests.Response]) -> list[Answer]:
    answers: list[Answer] = []
    with requests.Session() as http:
        for _ in range(MAX_REQUESTS_PER_THREAD):
            if until.is_set():
                break
            answers.append(_answer(call(http)))
    return answers


def test_an_outage_under_load_answers_503_with_retry_after_and_loses_no_token(outage_server: Outage) -> None:
    url, creds = outage_server.server.url, outage_server.client
    probe = requests.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=creds, timeout=10)
    assert probe.status_code == 200
    known = probe.json()["access_token"]
    callers: dict[str, Callable[[requests.Session], requests.Response]] = {
        **{f"token-{i}": (lambda http: http.post(url + "/oauth/token", data={"grant_type": "client_credentials"},
                                                 auth=creds, timeout=10)) for i in range(4)},
        "introspect": lambda http: http.post(url + "/oauth/introspect", data={"token": known}, auth=creds,
                                             timeout=10),
        "revoke-unknown": lambda http: http.post(url + "/oauth/revoke", data={"token": "asat_unknown"}, auth=creds,
                                                 timeout=10),
        # an unknown client id is never cached, so every request reads the database
        "authorize-page": lambda http: http.get(url + "/oauth/authorize", params={
            "response_type": "code", "client_id": "unknown-" + uuid.uuid4().hex[:6]}, timeout=10),
    }
    stop = threading.Event()
    with ThreadPoolExecutor(len(callers)) as pool:
        futures = {name: pool.submit(_load, stop, call) for name, call in callers.items()}
        time.sleep(1.0)  # normal service first
        _set_allow_connections(outage_server.database, False)
        outage_started = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        _set_allow_connections(outage_server.database, True)
        outage_ended = time.monotonic()
        time.sleep(RECOVERY_BOUND + 1.0)
        stop.set()
        answers = {name: f.result() for name, f in futures.items()}

    everything = [a for found in answers.values() for a in found]
    assert not [a for a in everything if a.status >= 500 and a.status != 503], "a 5xx other than 503"
    unavailable = [a for a in everything if a.status == 503]
    assert unavailable, "the outage was not noticed: nothing answered 503"
    assert all(a.retry_after == "1" for a in unavailable)
    for name, found in answers.items():
        expected = 400 if name == "authorize-page" else 200
        assert {a.status for a in found} <= {expected, 503}, (name, {a.status for a in found})
        for a in found:
            if a.status != 503:
                continue
            if name == "authorize-page":
                assert a.content_type.startswith("text/html") and "Try again in a moment" in a.body
            else:
                assert a.body == {"error": "temporarily_unavailable",
                                  "error_description": "The server cannot reach its database; retry."}
        after = [a for a in found if a.at > outage_ended]
        assert after and after[-1].status == expected, f"{name} did not recover"
        recovered = next(a.at for a in after if a.status == expected)
        assert recovered - outage_ended < RECOVERY_BOUND, f"{name} took {recovered - outage_ended:.1f} s"
    assert any(outage_started < a.at < outage_ended for a in unavailable)

    issued = [a.token for a in everything if a.token]
    assert len(issued) > 100

    def inactive(tokens: list[str]) -> list[str]:
        with requests.Session() as http:
            return [t for t in tokens if http.post(url + "/oauth/introspect", data={"token": t}, auth=creds,
                                                   timeout=10).json().get("active") is not True]

    with ThreadPoolExecutor(4) as pool:
        lost = [t for found in pool.map(inactive, [issued[i::4] for i in range(4)]) for t in found]
    assert not lost, f"{len(lost)} of {len(issued)} tokens answered 200 were not stored"
    log = outage_server.server.log_text()
    assert "Traceback" not in log and "unhandled error" not in log


def _until(probe: Callable[[], bool], bound: float) -> float:
    """Seconds until ``probe()`` holds, polled; fails past ``bound``."""
    started = time.monotonic()
    while not probe():
        assert time.monotonic() - started < bound, f"not within {bound} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_readiness_follows_the_database_and_liveness_does_not(outage_server: Outage) -> None:
    """What an orchestrator sees: /health/ready goes 503 naming the database while it is
    gone and 200 once it is back, on the same server process; /health/live stays 200."""
    url = outage_server.server.url

    def ready() -> requests.Response:
        return requests.get(url + "/health/ready", timeout=10)

    assert ready().status_code == 200
    _set_allow_connections(outage_server.database, False)
    try:
        _until(lambda: ready().status_code == 503, RECOVERY_BOUND)
        down = ready()
        assert down.status_code == 503 and down.json() == {"status": "unavailable", "checks": {
            "database": "unreachable", "schema": "not checked", "signing_key": "not checked"}}
        assert requests.get(url + "/health/live", timeout=10).json() == {"status": "ok"}
    finally:
        _set_allow_connections(outage_server.database, True)
    _until(lambda: ready().status_code == 200, RECOVERY_BOUND)
    assert outage_server.server.process.poll() is None  # the same process, not restarted
    assert "Traceback" not in outage_server.server.log_text()
