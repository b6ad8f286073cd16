"""``authserver serve`` as ``make run PORT=...`` starts it, under each HTTP server it offers
(granian by default, gunicorn with ``--server gunicorn``): the port it serves on is the port
its issuer, metadata and tokens name, a taken port is one line, at once, a killed worker is
replaced, SIGTERM ends it cleanly, and the access log holds no query string."""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, stop_process
from tests.databases import free_port

pytestmark = pytest.mark.e2e


Served = tuple[str, dict[str, str], subprocess.Popen[str]]
SERVERS = [None, "gunicorn"]  # None: the default, as `make run` starts it


@pytest.fixture(params=SERVERS, ids=["default", "gunicorn"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env["AUTHSERVER_INSTANCE_PATH"] = str(tmp_path / "instance")
    cli = [sys.executable, "-m", "authserver.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=tmp_path)
    port = free_port()
    server = ["--server", request.param] if request.param else []
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "1", *server],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    answering(process, url)
    yield url, env, process
    stop_process(process)  # type: ignore[arg-type]


def answering(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if requests.get(url + "/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.05)


def workers(process: subprocess.Popen[str]) -> list[int]:
    """The server's worker processes: its children."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def log_until(process: subprocess.Popen[str], needle: str, timeout: float = 15) -> str:
    """The server's output up to the first line holding ``needle``: granian writes a request's
    access line after the response has gone out, so the test waits for the line itself."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stdout.readline()
        seen.append(line)
        if needle in line or not line:
            break
    return "".join(seen)


def log_after_stop(process: subprocess.Popen[str]) -> str:
    stop_process(process)  # type: ignore[arg-type]
    assert process.returncode == 0
    return process.stdout.read() if process.stdout else ""


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


def test_the_default_server_is_granian(served) -> None:
    _, _, process = served
    log = log_after_stop(process)
    banner = "(gunicorn, 1 workers)" if "--server" in process.args else "(granian, 1 workers)"
    assert banner in log


def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(served) -> None:
    url, _, process = served
    [worker] = workers(process)
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while workers(process) in ([], [worker]):  # until the master has reaped it and started another
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    answering(process, url)
    assert requests.get(url + "/.well-known/oauth-authorization-server", timeout=5).status_code == 200
    [replacement] = workers(process)
    assert replacement != worker


def test_sighup_replaces_the_workers_gracefully(served) -> None:
    url, _, process = served
    old = workers(process)
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while set(workers(process)) & set(old) or not workers(process):  # until only new workers remain
        assert requests.get(url + "/", timeout=5).status_code == 200  # served all along
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    answering(process, url)


def test_sigterm_stops_the_workers_and_exits_cleanly(served) -> None:
    url, _, process = served
    [worker] = workers(process)
    assert requests.get(url + "/", timeout=5).status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not Path(f"/proc/{worker}").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=2)


@pytest.mark.slow
def test_the_access_log_has_the_request_line_without_its_query_string(served) -> None:
    url, _, process = served
    secret = "s3cr3t-" + os.urandom(8).hex()
    assert requests.get(f"{url}/.well-known/oauth-authorization-server?probe={secret}", timeout=5).status_code == 200
    requests.get(f"{url}/oauth/authorize?client_id=x&state={secret}&code_challenge={secret}", timeout=5)
    log = log_until(process, '"GET /oauth/authorize" ')
    log += log_after_stop(process)
    assert '"GET /.well-known/oauth-authorization-server" 200' in log
    assert '"GET /oauth/authorize" ' in log
    assert secret not in log and "probe=" not in log


def test_sigterm_lets_the_request_in_progress_finish(served) -> None:
    url, _, process = served
    if "--server" in process.args:
        pytest.skip("gunicorn's sync workers close every connection, so none can be held mid-request")
    host = url.removeprefix("http://")
    address, port = host.rsplit(":", 1)
    body = b"grant_type=client_credentials&scope=reports%3Aread"
    http = HTTPConnection(address, int(port), timeout=10)
    http.request("GET", "/")
    first = http.getresponse()
    assert first.status == 200 and first.read()  # a worker holds this kept-alive connection now
    assert http.sock is not None
    head = (f"POST /oauth/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    http.sock.sendall(head + body[:10])  # the request has begun and is not complete
    process.send_signal(signal.SIGTERM)
    http.sock.sendall(body[10:])
    answer = b""
    while chunk := http.sock.recv(65536):
        answer += chunk
    http.close()
    assert answer.startswith(b"HTTP/1.1 401")  # answered as usual: no client authentication
    assert b'"error":"invalid_client"' in answer.replace(b" ", b"")
    assert process.wait(timeout=30) == 0
