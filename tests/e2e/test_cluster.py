"""Three nodes (``authserver serve``, two granian workers each) on one PostgreSQL and one
Redis, behind a real HAProxy (Debian's package) on loopback, round-robin. What one node or
the command line changes holds on every worker of every node within a second.

The nodes share what the README's "Running several nodes" names: the secret, the issuer
(HAProxy's URL), the database and Redis; each has an instance folder of its own, as a machine
would. HAProxy adds ``X-Node`` to each answer, so the test sees the requests spread.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests

from tests.conftest import stop_process, wait_until_answering
from tests.databases import free_port, new_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODES = 3
WITHIN = 1.0
HAPROXY = """
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure
    option forwardfor
frontend authserver
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    http-response set-header X-Node %s
{servers}
"""


@dataclass
class Cluster:
    url: str
    env: dict[str, str]
    nodes: list[str]  # each node's own URL, past HAProxy

    def cli(self, *args: str) -> Any:
        """The command's ``--json`` answer."""
        done = subprocess.run([sys.executable, "-m", "authserver.cli", *args, "--json"], env=self.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed: `make test` installs Debian's package")
    folder = tmp_path_factory.mktemp("cluster")
    with new_database("postgresql", folder, label="cluster") as database_url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
        env.update(AUTHSERVER_DATABASE_URL=database_url, AUTHSERVER_REDIS_URL="redis://127.0.0.1:6379/0",
                   AUTHSERVER_SECRET_KEY="cluster-" + uuid.uuid4().hex, AUTHSERVER_ISSUER=url,
                   AUTHSERVER_INSTANCE_PATH=str(folder / "cli"), AUTHSERVER_TRUSTED_PROXIES="127.0.0.1")
        subprocess.run([sys.executable, "-m", "authserver.cli", "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        processes: list[subprocess.Popen[bytes]] = []
        nodes = []
        try:
            for n in range(NODES):
                node_port = free_port()
                log = folder / f"node-{n}.log"
                node_env = {**env, "AUTHSERVER_INSTANCE_PATH": str(folder / f"node-{n}")}
                with log.open("wb") as out:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "authserver.cli", "serve", "--port", str(node_port), "--workers", "2"],
                        env=node_env, stdout=out, stderr=subprocess.STDOUT))
                nodes.append(f"http://127.0.0.1:{node_port}")
            for node, process, n in zip(nodes, processes, range(NODES), strict=True):
                wait_until_answering(process, node + "/health/ready", folder / f"node-{n}.log")
            servers = "\n".join(f"    server n{n} {node.removeprefix('http://')} check inter 300ms fall 2 rise 1"
                                for n, node in enumerate(nodes))
            config = folder / "haproxy.cfg"
            config.write_text(HAPROXY.format(port=port, servers=servers))
            with (folder / "haproxy.log").open("wb") as out:
                processes.append(subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=out,
                                                  stderr=subprocess.STDOUT))
            wait_until_answering(processes[-1], url + "/health/ready", folder / "haproxy.log")
            deadline = time.monotonic() + 30  # every node checked up
            while len({requests.get(url + "/health/ready", timeout=5).headers.get("X-Node") for _ in range(6)}) < NODES:
                assert time.monotonic() < deadline, (folder / "haproxy.log").read_text()
            yield Cluster(url, env, nodes)
        finally:
            for process in processes:
                stop_process(process)


def token(url: str, basic: tuple[str, str]) -> requests.Response:
    with requests.Session() as http:  # a connection of its own: any worker may answer
        return http.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=basic, timeout=10)


def new_client(cluster: Cluster) -> tuple[str, str]:
    made = cluster.cli("clients", "create", "--name", "cluster", "--scope", "reports:read")
    return str(made["client_id"]), str(made["client_secret"])


def every_worker(cluster: Cluster, basic: tuple[str, str], rounds: int = 8) -> set[int]:
    """Statuses from each node, on fresh connections, so both of its workers answer."""
    return {token(node, basic).status_code for node in cluster.nodes for _ in range(rounds)}


def test_requests_spread_over_the_nodes_and_tokens_hold_on_each(cluster: Cluster) -> None:
    basic = new_client(cluster)
    answers = [token(cluster.url, basic) for _ in range(2 * NODES)]
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["X-Node"] for a in answers} == {f"n{n}" for n in range(NODES)}
    for a in answers:  # introspected through whichever node comes next
        active = requests.post(cluster.url + "/oauth/introspect", data={"token": a.json()["access_token"]},
                               auth=basic, timeout=10)
        assert active.json()["active"] is True


def test_a_client_deleted_by_the_command_line_is_refused_by_every_node_within_a_second(cluster: Cluster) -> None:
    basic = new_client(cluster)
    assert every_worker(cluster, basic) == {200}  # every worker has it cached now
    cluster.cli("clients", "delete", basic[0])
    deleted_at = time.monotonic()
    while (seen := every_worker(cluster, basic)) != {401}:
        assert time.monotonic() - deleted_at < WITHIN, f"still answered {seen}"


def test_a_rotated_key_signs_on_every_node_and_every_node_publishes_it(cluster: Cluster) -> None:
    basic = new_client(cluster)
    assert every_worker(cluster, basic) == {200}  # every worker holds the active key now
    rotated = cluster.cli("keys", "rotate")
    new_kids = {str(key["kid"]) for key in rotated}
    rotated_at = time.monotonic()

    def kids() -> set[str]:
        return {jwt.get_unverified_header(token(node, basic).json()["access_token"])["kid"]
                for node in cluster.nodes for _ in range(8)}

    while not kids() <= new_kids:
        assert time.monotonic() - rotated_at < WITHIN, "a worker still signs with the old key"
    for node in cluster.nodes:
        published = {key["kid"] for key in requests.get(node + "/oauth/jwks", timeout=10).json()["keys"]}
        assert new_kids <= published
