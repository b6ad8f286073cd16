"""Shared fixtures: a migrated database per backend (SQLite and PostgreSQL), the app on
it, registration helpers, and the real server under gunicorn on a free loopback port.

Every test that takes ``app`` or ``live_server`` runs once per backend. Set
``AUTHSERVER_TEST_DATABASES=sqlite`` to run only SQLite while iterating locally.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from authserver.appstate import state
from tests.databases import free_port, new_database

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = os.environ.get("AUTHSERVER_TEST_DATABASES", "sqlite,postgresql").split(",")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database on the backend named by the parameter, for the session."""
    with new_database(request.param, tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def server_settings(database_url: str, instance_path: Path) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "instance_path": str(instance_path),
        "secret_key": "test-secret-" + uuid.uuid4().hex,
        "issuer": f"http://127.0.0.1:{free_port()}",
    }


@pytest.fixture(scope="session")
def migrated_app(server_settings: dict[str, Any]) -> Flask:
    from flask_migrate import upgrade

    from authserver import create_app

    app = create_app(server_settings)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def app(migrated_app: Flask) -> Iterator[Flask]:
    with migrated_app.app_context():
        yield migrated_app


@pytest.fixture(scope="module")
def apps(migrated_app: Flask, server_settings: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Apps on the test database with other registration settings, made once per set."""
    from authserver import create_app
    from authserver.extensions import db

    made: dict[tuple[tuple[str, Any], ...], Flask] = {}

    def make(mode: str = "open", **settings: Any) -> Flask:
        key = tuple(sorted({"dynamic_registration": mode, **settings}.items()))
        if key not in made:
            made[key] = create_app({**server_settings, **dict(key)})
        return made[key]

    yield make
    for app in made.values():
        with app.app_context():
            db.engine.dispose()


@dataclass
class Registered:
    """A client as a test holds it: id, secret, and the record the CLI would print."""

    client_id: str
    client_secret: str | None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def basic(self) -> tuple[str, str]:
        assert self.client_secret is not None
        return (self.client_id, self.client_secret)


@pytest.fixture
def make_client(migrated_app: Flask):
    """Register a client directly (the same code path as ``authserver clients create``)."""
    from authserver.clients.metadata import ClientMetadata
    from authserver.clients.registry import client_record, register_client

    def make(scope: str = "reports:read reports:write", grant_types: list[str] | None = None, *,
             name: str = "Test client", public: bool = False, token_format: str | None = None,
             **kw: Any) -> Registered:
        """``kw``: the other ``ClientMetadata`` fields, lists welcome."""
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
        metadata = ClientMetadata(
            client_name=name, grant_types=tuple(grant_types or ["client_credentials"]), scope=scope,
            token_endpoint_auth_method="none" if public else "client_secret_basic", access_token_format=token_format,
            **fields,
        )
        with migrated_app.app_context():
            client, secret = register_client(state(migrated_app).hasher, metadata)
            return Registered(client.client_id, secret, client_record(client, secret))

    return make


@pytest.fixture
def make_user(migrated_app: Flask):
    from authserver.extensions import db
    from authserver.models import User
    from authserver.people.passwords import hash_password

    def make(password: str = "correct horse battery") -> tuple[str, str]:
        name = "user-" + uuid.uuid4().hex[:8]
        with migrated_app.app_context():
            db.session.add(User(username=name, password_hash=hash_password(password)))
            db.session.commit()
        return name, password

    return make


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the ``authserver`` command line against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "authserver.cli", *args], env=self.env, input=input, capture_output=True, text=True
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(settings: dict[str, Any], log_path: Path, workers: int = 2,
                 extra_env: dict[str, str] | None = None, server: str = "granian") -> LiveServer:
    """``settings`` become ``AUTHSERVER_*`` variables; ``extra_env`` is passed as it is."""
    port = int(settings["issuer"].rsplit(":", 1)[1])
    env = {**os.environ, **{f"AUTHSERVER_{k.upper()}": str(v) for k, v in settings.items()}, **(extra_env or {})}
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "authserver.cli", "serve", "--port", str(port), "--workers", str(workers),
         "--server", server],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    url = settings["issuer"]
    deadline = time.monotonic() + 30
    try:
        while True:  # poll readiness: the server answers metadata once a worker is up
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()}")
            try:
                if requests.get(url + "/.well-known/oauth-authorization-server", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    except BaseException:
        stop_process(process)
        raise
    return LiveServer(url, env, process, log_path)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the gunicorn master stop its workers; SIGKILL only if it will not."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_answering(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float = 30) -> None:
    """Poll ``url`` until the server ``process`` answers at all; fail with its log if it exits
    or stays silent past ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)


def stop_server(server: LiveServer) -> None:
    stop_process(server.process)


@pytest.fixture(scope="session")
def live_server(
    migrated_app: Flask, server_settings: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real server: gunicorn, two workers, on the same database as ``app``."""
    server = start_server(server_settings, tmp_path_factory.mktemp("logs") / "server.log")
    yield server
    stop_server(server)
