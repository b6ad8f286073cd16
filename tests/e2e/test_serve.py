"""``authserver serve`` as ``make run PORT=...`` starts it: the port it serves on is the
port its issuer, metadata and tokens name, and a taken port is one line, at once."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, stop_process
from tests.databases import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env["AUTHSERVER_INSTANCE_PATH"] = str(tmp_path / "instance")
    cli = [sys.executable, "-m", "authserver.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "1"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            requests.get(url + "/", timeout=2)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    yield url, env, process
    stop_process(process)  # type: ignore[arg-type]


def test_the_issuer_follows_the_port_it_serves_on(served) -> None:
    url, env, _ = served
    metadata = requests.get(url + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert metadata["issuer"] == url and metadata["token_endpoint"] == url + "/oauth/token"
    created = subprocess.run(
        [sys.executable, "-m", "authserver.cli", "clients", "create", "--name", "port", "--json"],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    )
    client = json.loads(created.stdout)
    answer = requests.post(
        metadata["token_endpoint"], data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]), timeout=5,
    ).json()
    payload = answer["access_token"].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"] == url
    home = requests.get(url + "/", timeout=5)
    assert home.status_code == 200 and url in home.text


def test_a_second_server_on_a_taken_port_says_so_in_one_line(served) -> None:
    url, env, _ = served
    port = url.rsplit(":", 1)[1]
    started = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "authserver.cli", "serve", "--port", port],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert second.returncode != 0
    assert second.stderr.strip() == (
        f"Error: port {port} on 127.0.0.1 is already in use (another server?): stop it, or pick another port "
        f"with --port {int(port) + 1} (make run PORT={int(port) + 1})"
    )
    assert "Connection in use" not in second.stdout + second.stderr
    assert time.monotonic() - started < 5 + 5  # no five seconds of gunicorn retries on top of start-up
