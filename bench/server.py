"""Starting the processes under test: ``authserver serve`` as users run it, and the bench's
own Flask apps under the same server settings, each on a free loopback port.

Fresh databases (a SQLite file per run, or a PostgreSQL database created and dropped) come
from ``tests.databases``, which the test suite uses too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from authserver.cli.serve import GRANIAN_ACCESS_FORMAT, GRANIAN_LOG_CONFIG, GUNICORN_ACCESS_FORMAT
from tests.databases import free_port

from .config import BenchConfig

ROOT = Path(__file__).resolve().parent.parent
METADATA = "/.well-known/oauth-authorization-server"


@dataclass
class Process:
    """A server under test: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_ready(proc: Process, path: str, timeout: float = 60.0) -> None:
    """Poll until the app answers; a process that dies or never answers is stopped and reported."""
    deadline = time.monotonic() + timeout
    while proc.process.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(proc.url + path, timeout=5).status_code < 500:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"{proc.url} not ready: {proc.log_path.read_text(errors='replace')[-4000:]}")


def authserver_env(settings: dict[str, Any]) -> dict[str, str]:
    """The environment ``authserver`` reads its settings from (AUTHSERVER_<KEY>)."""
    return {**os.environ, **{f"AUTHSERVER_{k.upper()}": str(v) for k, v in settings.items()}}


def launch(cmd: list[str], env: dict[str, str], url: str, ready_path: str, logdir: Path, name: str,
           cwd: Path = ROOT) -> Process:
    """Start ``cmd`` with its output in a log file under ``logdir``; return once ``url`` answers."""
    log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log", dir=logdir)[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    proc = Process(url, process, log_path)
    _wait_ready(proc, ready_path)
    return proc


def start_authserver(settings: dict[str, Any], workers: int, threads: int, logdir: Path,
                     server: str = "granian") -> Process:
    """``authserver serve`` exactly as a user runs it; the port comes from the issuer URL."""
    port = settings["issuer"].rsplit(":", 1)[1]
    cmd = [sys.executable, "-m", "authserver.cli", "serve", "--port", port, "--workers", str(workers),
           "--threads", str(threads), "--server", server]
    return launch(cmd, authserver_env(settings), settings["issuer"], METADATA, logdir, "authserver")


def gunicorn_args(workers: int, threads: int) -> list[str]:
    """The gunicorn options ``authserver serve --server gunicorn`` uses, as command-line flags."""
    return ["--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread" if threads > 1 else "sync",
            "--access-logfile", "-", "--access-logformat", GUNICORN_ACCESS_FORMAT,
            "--error-logfile", "-", "--keep-alive", "5", "--no-control-socket"]


def start_wsgi_app(target: str, env: dict[str, str], workers: int, threads: int, logdir: Path,
                   ready_path: str = "/healthz") -> Process:
    """A bench app (``module:factory()``) under gunicorn with the real server's settings."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *gunicorn_args(workers, threads), target]
    return launch(cmd, {**os.environ, **env}, f"http://127.0.0.1:{port}", ready_path, logdir, "app")


def start_granian_app(factory: str, env: dict[str, str], workers: int, threads: int, logdir: Path,
                      ready_path: str = "/healthz") -> Process:
    """A bench app (``module:factory``) under granian with ``authserver serve``'s settings:
    WSGI, HTTP/1.1 with keep-alive, the same access log."""
    port = free_port()
    log_config = logdir / "granian-logging.json"
    log_config.write_text(json.dumps(GRANIAN_LOG_CONFIG))
    cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory", "--http", "1", "--no-ws",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--blocking-threads", str(threads), "--access-log", "--access-log-fmt", GRANIAN_ACCESS_FORMAT,
           "--log-config", str(log_config), factory]
    return launch(cmd, {**os.environ, **env}, f"http://127.0.0.1:{port}", ready_path, logdir, "granian")


def start_app(factory: str, env: dict[str, str], cfg: BenchConfig, logdir: Path, ready_path: str = "/healthz"
              ) -> Process:
    """A bench app (``module:factory``) under the server ``authserver serve`` runs under in this bench."""
    if cfg.server == "granian":
        return start_granian_app(factory, env, cfg.workers, cfg.threads, logdir, ready_path)
    return start_wsgi_app(factory + "()", env, cfg.workers, cfg.threads, logdir, ready_path)


def start_uvicorn_app(factory: str, env: dict[str, str], workers: int, logdir: Path,
                      ready_path: str = "/healthz") -> Process:
    """A bench ASGI app (``module:factory``) under uvicorn, as the examples run: its default
    event loop and HTTP parser, access log on."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    return launch(cmd, {**os.environ, **env}, f"http://127.0.0.1:{port}", ready_path, logdir, "uvicorn")
