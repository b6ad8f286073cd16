"""node-oidc-provider, the fastest peer, issuing tokens beside authserver in the same run.

``bench/peers/node-oidc-provider`` pins the library (package.json and its lock); the bench
installs it there with ``npm ci`` the first time it runs, never at test time, and starts
``server.mjs``: in-memory storage, ES256, client_secret_basic, as many processes as authserver
has workers. Without Node.js or npm the bench says so in one line and goes on without the peer.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.databases import free_port

from .fixtures import AUDIENCE, SCOPE, Credentials
from .server import Process, launch

PEER_DIR = Path(__file__).resolve().parent / "peers" / "node-oidc-provider"
DISCOVERY = "/.well-known/openid-configuration"
# server.mjs registers one client per access-token format.
CLIENT_IDS = {"JWT": "bench-jwt", "opaque": "bench-opaque"}


class Unavailable(Exception):
    """The peer cannot run on this machine; the message says why in one line."""


@dataclass(frozen=True)
class NodePeer:
    """The running peer: its processes, the library's version and the clients' secret."""

    process: Process
    version: str
    secret: str

    @property
    def label(self) -> str:
        return f"node-oidc-provider {self.version}"

    def client(self, token_format: str) -> Credentials:
        return Credentials(CLIENT_IDS[token_format], self.secret)

    def stop(self) -> None:
        self.process.stop()


def _version(package_json: Path) -> str | None:
    try:
        return str(json.loads(package_json.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def installed_version() -> str:
    """The oidc-provider version in the peer's folder, installing the locked one if needed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not installed; skipping the node-oidc-provider rows")
    lock = json.loads((PEER_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/oidc-provider"]["version"]
    if _version(PEER_DIR / "node_modules" / "oidc-provider" / "package.json") != locked:
        done = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=PEER_DIR,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"npm ci in {PEER_DIR} failed ({last}); skipping the node-oidc-provider rows")
    return str(locked)


def start(workers: int, logdir: Path) -> NodePeer:
    """``server.mjs`` with ``workers`` processes on a free loopback port."""
    version = installed_version()
    port = free_port()
    secret = secrets.token_urlsafe(32)
    env = {**os.environ, "BENCH_PORT": str(port), "BENCH_WORKERS": str(workers), "BENCH_SCOPE": SCOPE,
           "BENCH_AUDIENCE": AUDIENCE, "BENCH_SECRET": secret, "NODE_ENV": "production"}
    try:
        process = launch(["node", "server.mjs"], env, f"http://127.0.0.1:{port}", DISCOVERY, logdir,
                         "node-oidc-provider", cwd=PEER_DIR)
    except RuntimeError as e:
        raise Unavailable(f"node-oidc-provider did not start: {str(e).splitlines()[-1]}") from e
    return NodePeer(process, version, secret)
