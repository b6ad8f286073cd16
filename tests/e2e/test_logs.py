"""Capture the server's logs at DEBUG across a full run and find no credential in them."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import start_server, stop_server
from tests.databases import free_port

pytestmark = pytest.mark.e2e


def test_logs_hold_no_secret_or_authorization_header(
    migrated_app, server_settings: dict[str, Any], tmp_path: Path
) -> None:
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}", "log_level": "DEBUG"}
    server = start_server(settings, tmp_path / "server.log")
    try:
        leaked: list[str] = []
        result = server.cli("clients", "create", "--name", "logs", "--scope", "a", "--json")
        client = json.loads(result.stdout)
        creds = (client["client_id"], client["client_secret"])
        leaked.append(client["client_secret"])
        header = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        leaked.append(header.split()[1])
        url = server.url
        for fmt_client in (creds,):
            body = requests.post(
                url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=fmt_client, timeout=5
            ).json()
            leaked.append(body["access_token"])
            requests.post(url + "/oauth/introspect", data={"token": body["access_token"]}, auth=creds, timeout=5)
            requests.post(url + "/oauth/revoke", data={"token": body["access_token"]}, auth=creds, timeout=5)
        wrong = "ascs_" + uuid.uuid4().hex
        leaked.append(wrong)
        requests.post(
            url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=(creds[0], wrong), timeout=5
        )
        requests.post(url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": creds[0],
                                                 "client_secret": creds[1]}, timeout=5)
        requests.post(
            url + "/oauth/token?client_secret=" + creds[1], data={"grant_type": "client_credentials"}, timeout=5
        )
        requests.post(
            url + "/oauth/introspect",
            data={"token": "asat_" + "x" * 36},
            headers={"Authorization": "Bearer " + body["access_token"]},
            timeout=5,
        )
    finally:
        stop_server(server)
    log = server.log_text()
    assert "GET /.well-known/oauth-authorization-server" in log and "POST /oauth/token" in log  # the log is real
    for secret in leaked:
        assert secret not in log
    assert "Authorization" not in log
