"""The real server (two gunicorn workers) on PostgreSQL hears a change made by the command
line, another process, within a second on every worker: LISTEN/NOTIFY, not the client cache's
5 s TTL. Each request opens its own connection, so both workers answer."""

from __future__ import annotations

import json
import time

import pytest
import requests

pytestmark = pytest.mark.e2e

WITHIN = 1.0
ROUNDS = 12  # fresh connections: both workers answer some


def statuses(url: str, basic: tuple[str, str]) -> set[int]:
    found = set()
    for _ in range(ROUNDS):
        with requests.Session() as http:
            found.add(http.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=basic,
                                timeout=10).status_code)
    return found


def test_every_worker_refuses_a_rotated_secret_within_a_second(live_server, make_client, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no change channel: a change holds within AUTHSERVER_CLIENT_CACHE_TTL")
    client = make_client()
    assert statuses(live_server.url, client.basic) == {200}  # cached by the workers now
    rotated = live_server.cli("clients", "rotate-secret", client.client_id, "--json")
    assert rotated.returncode == 0, rotated.stderr
    changed_at = time.monotonic()
    while statuses(live_server.url, client.basic) != {401}:  # a round started later than that must agree
        round_started = time.monotonic()
        assert round_started - changed_at < WITHIN, "the old secret was still accepted a second later"
    new_secret = json.loads(rotated.stdout)["client_secret"]
    assert statuses(live_server.url, (client.client_id, new_secret)) == {200}
