"""A live server (granian, two workers) with ``AUTHSERVER_AUDIT_LOG=db+FILE``: each event of
a real run is one JSON line in the file, the same object ``authserver audit list --json``
prints, with the request id the client sent; no secret is in the file, the listing or the log."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import start_server, stop_server
from tests.databases import free_port

from .test_logs import REQUEST_ID, assert_no_secret, exercise

pytestmark = pytest.mark.e2e


def _failed_sign_in(url: str, username: str, password: str) -> None:
    with requests.Session() as browser:
        page = browser.get(url + "/login", timeout=5).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        answer = browser.post(url + "/login", data={"csrf_token": csrf.group(1), "username": username,
                                                    "password": password}, timeout=5)
        assert answer.status_code == 400


def test_each_event_of_a_live_run_is_one_json_line_and_listed_with_no_secret(
    migrated_app, server_settings: dict[str, Any], tmp_path: Path
) -> None:
    sink = tmp_path / "audit.jsonl"
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}", "audit_log": f"db+{sink}"}
    server = start_server(settings, tmp_path / "server.log")
    try:
        leaked = exercise(server)
        typed = "typed-" + uuid.uuid4().hex
        _failed_sign_in(server.url, "nobody-" + uuid.uuid4().hex, typed)
        leaked.append(typed)
        listed = server.cli("audit", "list", "--since", "10m", "--limit", "1000", "--json")
    finally:
        stop_server(server)
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in sink.read_text().splitlines()]  # every line parses
    client_id = next(line["client_id"] for line in lines if line["type"] == "client.created")
    mine = [line for line in lines if line["client_id"] == client_id]
    # Created by the command line; issued, revoked; a wrong secret; the secret in the body (client_secret_post).
    assert [line["type"] for line in mine] == ["client.created", "token.issued", "token.revoked",
                                               "token.refused", "token.issued"]
    issued = mine[1]
    assert issued["request_id"] == REQUEST_ID and issued["remote_addr"] == "127.0.0.1"
    assert mine[3]["details"] == {"grant_type": "client_credentials", "error": "invalid_client"}
    assert any(line["type"] == "user.sign_in_failed" and line["user"] is None for line in lines)
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    for line in lines:  # the file and the table agree, object for object
        assert line in events
    for text in (sink.read_text(), listed.stdout, server.log_text()):
        assert_no_secret(text, leaked)
