"""A real Prometheus (Debian's) scrapes ``authserver serve``: the figures are the server's,
summed over its workers, and a worker killed and respawned loses none of its counts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, start_server, stop_process, stop_server
from tests.databases import free_port

pytestmark = pytest.mark.e2e
ISSUED = 'sum(authserver_token_requests_total{grant_type="client_credentials",outcome="issued"})'
TIMED = 'sum(authserver_token_request_seconds_count{grant_type="client_credentials"})'


def workers_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def until(check: Any, what: str, timeout: float = 30) -> Any:
    """Poll ``check`` until it answers something true (the condition, not a sleep, ends it)."""
    deadline = time.monotonic() + timeout
    while (answer := check()) is None or answer is False:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return answer


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Any]:
    """Start Debian's Prometheus on loopback scraping the given target every second."""
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus is missing: make test installs it (apt-get install prometheus)"
    started: list[subprocess.Popen[bytes]] = []

    def start(target: str) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [{"job_name": "authserver", "static_configs": [{"targets": [target]}]}],
        }))
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        started.append(subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT))
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        stop_process(process)


def query(prometheus_url: str, promql: str) -> float | None:
    try:
        response = requests.get(prometheus_url + "/api/v1/query", params={"query": promql}, timeout=5)
    except requests.ConnectionError:
        return None
    if response.status_code != 200:  # 503 "not ready" while it starts
        return None
    samples = response.json()["data"]["result"]
    return float(samples[0]["value"][1]) if samples else None


def issue(server: LiveServer, creds: tuple[str, str], count: int) -> None:
    for _ in range(count):  # a connection each: the workers share them
        response = requests.post(server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=creds, headers={"Connection": "close"}, timeout=5)
        assert response.status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("http_server", ["granian", "gunicorn"])
def test_prometheus_reads_every_workers_counts_across_a_worker_restart(
    migrated_app, server_settings: dict[str, Any], tmp_path: Path, prometheus, http_server: str
) -> None:
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}"}
    server = start_server(settings, tmp_path / "server.log", workers=2, server=http_server)
    try:
        client = json.loads(server.cli("clients", "create", "--name", "m", "--scope", "a", "--json").stdout)
        creds = (client["client_id"], client["client_secret"])
        issue(server, creds, 12)
        for victim in sorted(workers_of(server.process.pid)):  # every worker dies once
            os.kill(victim, signal.SIGKILL)
            until(lambda v=victim: len(workers_of(server.process.pid) - {v}) == 2, f"a worker in place of {victim}")
            issue(server, creds, 4)
        text = requests.get(server.url + "/metrics", timeout=5).text
        assert 'authserver_token_requests_total{grant_type="client_credentials",outcome="issued"} 20.0' in text
        url = prometheus(settings["issuer"].removeprefix("http://"))
        assert until(lambda: query(url, 'up{job="authserver"}'), "Prometheus to scrape") == 1
        assert until(lambda: query(url, ISSUED), "the issued tokens in Prometheus") == 20
        assert until(lambda: query(url, TIMED), "the token timings") == 20
        endpoints = requests.get(url + "/api/v1/label/endpoint/values", timeout=5).json()["data"]
        assert "/oauth/token" in endpoints and all(e.startswith("/") or e == "unmatched" for e in endpoints)
    finally:
        stop_server(server)
