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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests

from tests.conftest import stop_process, wait_until_answering
from tests.databases import free_port, new_database

from .authorize_flow import approve, pkce_pair, query_of

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

    def cli(self, *args: str, input: str | None = None) -> Any:
        """The command's ``--json`` answer."""
        done = subprocess.run([sys.executable, "-m", "authserver.cli", *args, "--json"], env=self.env,
                              input=input, capture_output=True, text=True, timeout=60)
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


def seconds_until(holds: Callable[[], bool], give_up: float = 10.0) -> float:
    """From now to the start of the first round of requests in which ``holds`` (a round takes
    a while under load: what counts is that every request sent after that moment agreed)."""
    since = time.monotonic()
    while True:
        started = time.monotonic()
        if holds():
            return started - since
        assert started - since < give_up, "never held"


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
    assert seconds_until(lambda: every_worker(cluster, basic) == {401}) < WITHIN


def test_a_rotated_key_signs_on_every_node_and_every_node_publishes_it(cluster: Cluster) -> None:
    basic = new_client(cluster)
    assert every_worker(cluster, basic) == {200}  # every worker holds the active key now
    rotated = cluster.cli("keys", "rotate")
    new_kids = {str(key["kid"]) for key in rotated}

    def kids() -> set[str]:
        return {jwt.get_unverified_header(token(node, basic).json()["access_token"])["kid"]
                for node in cluster.nodes for _ in range(8)}

    assert seconds_until(lambda: kids() <= new_kids) < WITHIN
    for node in cluster.nodes:
        published = {key["kid"] for key in requests.get(node + "/oauth/jwks", timeout=10).json()["keys"]}
        assert new_kids <= published


REDIRECT = "https://rp.example/callback"


def test_a_person_signs_in_and_refreshes_with_each_step_on_another_node(cluster: Cluster) -> None:
    """Sign-in, consent, code, token and two rotations, round-robin; then the first refresh
    token comes back, and its whole family is refused on every node."""
    made = cluster.cli("clients", "create", "--name", "web app", "--grant-type", "authorization_code",
                       "--grant-type", "refresh_token", "--redirect-uri", REDIRECT, "--scope", "openid reports:read")
    basic = (str(made["client_id"]), str(made["client_secret"]))
    username, password = "person-" + uuid.uuid4().hex[:8], "a long cluster passphrase"
    cluster.cli("users", "create", username, "--password-stdin", input=password + "\n")
    verifier, challenge = pkce_pair()
    with requests.Session() as browser:
        location = approve(cluster.url + "/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": basic[0], "redirect_uri": REDIRECT, "scope": "openid reports:read",
            "state": "s1", "nonce": "n1", "code_challenge": challenge, "code_challenge_method": "S256"}),
            username, password, session=browser)
    code = query_of(location)["code"]
    answers = [requests.post(cluster.url + "/oauth/token", auth=basic, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})]
    for _ in range(2):
        answers.append(requests.post(cluster.url + "/oauth/token", auth=basic, timeout=10, data={
            "grant_type": "refresh_token", "refresh_token": answers[-1].json()["refresh_token"]}))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert len({a.headers["X-Node"] for a in answers}) == NODES  # each step on another node
    assert "id_token" in answers[0].json()
    replayed = requests.post(cluster.url + "/oauth/token", auth=basic, timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": answers[0].json()["refresh_token"]})
    assert replayed.json()["error"] == "invalid_grant"
    for node in cluster.nodes:  # the newest one went with its family
        latest = requests.post(node + "/oauth/token", auth=basic, timeout=10, data={
            "grant_type": "refresh_token", "refresh_token": answers[-1].json()["refresh_token"]})
        assert latest.json().get("error") == "invalid_grant", latest.text
