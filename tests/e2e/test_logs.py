"""Capture the server's logs at DEBUG across a full run and find no credential in them, as
text and as JSON lines, under both servers."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import free_port

pytestmark = pytest.mark.e2e
REQUEST_ID = "trace-" + uuid.uuid4().hex


def exercise(server: LiveServer) -> list[str]:
    """Issue, introspect, revoke, and send credentials every wrong way; the secrets seen."""
    leaked: list[str] = []
    result = server.cli("clients", "create", "--name", "logs", "--scope", "a", "--json")
    client = json.loads(result.stdout)
    creds = (client["client_id"], client["client_secret"])
    leaked.append(client["client_secret"])
    header = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    leaked.append(header.split()[1])
    url = server.url
    body = requests.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=creds,
                         headers={"X-Request-ID": REQUEST_ID}, timeout=5).json()
    leaked.append(body["access_token"])
    requests.post(url + "/oauth/introspect", data={"token": body["access_token"]}, auth=creds, timeout=5)
    requests.post(url + "/oauth/revoke", data={"token": body["access_token"]}, auth=creds, timeout=5)
    wrong = "ascs_" + uuid.uuid4().hex
    leaked.append(wrong)
    requests.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=(creds[0], wrong), timeout=5)
    requests.post(url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": creds[0],
                                             "client_secret": creds[1]}, timeout=5)
    requests.post(url + "/oauth/token?client_secret=" + creds[1], data={"grant_type": "client_credentials"},
                  timeout=5)
    requests.post(url + "/oauth/introspect", data={"token": "asat_" + "x" * 36},
                  headers={"Authorization": "Bearer " + body["access_token"]}, timeout=5)
    return leaked


def assert_no_secret(log: str, leaked: list[str]) -> None:
    for secret in leaked:
        assert secret not in log
    assert "Authorization" not in log


def test_logs_hold_no_secret_or_authorization_header(
    migrated_app, server_settings: dict[str, Any], tmp_path: Path
) -> None:
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}", "log_level": "DEBUG"}
    server = start_server(settings, tmp_path / "server.log")
    try:
        leaked = exercise(server)
    finally:
        stop_server(server)
    log = server.log_text()
    assert "GET /.well-known/oauth-authorization-server" in log and "POST /oauth/token" in log  # the log is real
    assert_no_secret(log, leaked)


@pytest.mark.parametrize("http_server", ["granian", "gunicorn"])
def test_json_logs_are_one_object_a_line_with_the_request_id_and_no_secret(
    migrated_app, server_settings: dict[str, Any], tmp_path: Path, http_server: str
) -> None:
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}", "log_level": "DEBUG",
                "log_format": "json"}
    server = start_server(settings, tmp_path / "server.log", server=http_server)
    try:
        leaked = exercise(server)
    finally:
        stop_server(server)
    log = server.log_text()
    lines = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "request_id"} <= line.keys() for line in lines)
    access = [line for line in lines if line["logger"] == "authserver.access"]
    traced = [line for line in access if line["request_id"] == REQUEST_ID]
    assert [(line["method"], line["path"], line["status"]) for line in traced] == [("POST", "/oauth/token", 200)]
    assert any(line["path"] == "/.well-known/oauth-authorization-server" for line in access)
    # one access line per request: the server's own access log is off, not doubled
    assert not any(line["logger"] in ("gunicorn.access", "granian.access") for line in lines)
    assert sum("Listening at" in line["message"] for line in lines) == 1
    assert_no_secret(log, leaked)
