"""Stopping ``authserver serve`` as a terminal or a supervisor does, again and again, under load.

``make run`` in a terminal is one process group: Ctrl-C sends SIGINT to all of it, and a
supervisor stopping the group sends SIGTERM to all of it, so the master and its workers get
the signal at the same moment. Each cycle starts the server (two workers), loads it with
token requests over kept-alive connections until it has answered one (a worker is then most
likely still loading the app) or a dozen (both busy), signals the whole group, and requires
that the master exits within seconds, that no worker had to be killed for refusing to stop,
that no worker's exit is taken for a crash, and that no process of the group is left. A worker
stopped alone is replaced, and the master serves on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.databases import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CYCLES = 20
LOAD_THREADS = 4
# When the signal comes: at the first answer (the other worker is most likely still loading
# the app), or once both workers are busy with requests in flight. Cycles alternate.
ANSWERS_BEFORE_SIGNAL = (1, 12)
# A stop drains in well under a second; GRACEFUL_TIMEOUT (30 s) is when a worker that
# refuses to let go is killed, its clients' requests cut off. A stop must never come to that.
EXIT_BOUND = 10.0


@dataclass(frozen=True)
class Instance:
    env: dict[str, str]
    basic: tuple[str, str]


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    folder = tmp_path_factory.mktemp("shutdown")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env["AUTHSERVER_INSTANCE_PATH"] = str(folder)
    cli = [sys.executable, "-m", "authserver.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=folder)
    made = subprocess.run([*cli, "clients", "create", "--name", "load", "--scope", "reports:read", "--json"],
                          env=env, check=True, capture_output=True, text=True, cwd=folder)
    record = json.loads(made.stdout)
    yield Instance(env, (record["client_id"], record["client_secret"]))


def describe(pids: list[int]) -> str:
    """Each process's state and what it is blocked in (``/proc``), for a stop that hangs."""
    lines = []
    for pid in pids:
        proc = Path(f"/proc/{pid}")
        try:
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
            lines.append(f"{pid} {state.split(':', 1)[1].strip()} in {(proc / 'wchan').read_text() or '-'}")
        except (OSError, StopIteration):
            lines.append(f"{pid} gone")
    return "; ".join(lines) or "no process of the group"


def group_members(pgid: int) -> list[int]:
    """Every live process whose process group is ``pgid`` (field 5 of /proc/PID/stat)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def load(url: str, basic: tuple[str, str], answered: list[int], stop: threading.Event) -> None:
    """Token requests (a database write each) until told to stop; failures once the
    server goes away are expected and ignored."""
    with requests.Session() as http:
        while not stop.is_set():
            try:
                if http.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=basic,
                             timeout=10).status_code == 200:
                    answered.append(1)
            except requests.RequestException:
                if stop.is_set():
                    return


def cycle(instance: Instance, server: str, sig: signal.Signals, log: Path, answers_before_signal: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "authserver.cli", "serve", "--port", str(port), "--workers", "2",
             "--server", server],
            env={**instance.env, "AUTHSERVER_ISSUER": url}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal gives `make run`
        )
    answered: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(url, instance.basic, answered, stop)) for _ in range(LOAD_THREADS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(answered) < answers_before_signal:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.01)
        os.killpg(process.pid, sig)
        try:
            code = process.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:  # say who is still there, and what they printed
            pytest.fail(f"still running {EXIT_BOUND} s after {sig.name}: {describe(group_members(process.pid))}\n"
                        f"{log.read_text(errors='replace')}")
        assert code in (0, -sig, 128 + sig), log.read_text(errors="replace")
        printed = log.read_text(errors="replace")
        assert "refused to gracefully stop" not in printed
        assert "Unexpected exit" not in printed  # a worker stopped with its master is no crash
        deadline = time.monotonic() + 10  # the master is gone; its workers must be going too
        while left := group_members(process.pid):
            assert time.monotonic() < deadline, f"left alive after {sig.name}: {left}\n{log.read_text()}"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if group_members(process.pid):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_signalling_the_group_under_load_leaves_no_process(instance: Instance, server: str, sig: signal.Signals,
                                                           tmp_path: Path) -> None:
    for n in range(CYCLES):
        cycle(instance, server, sig, tmp_path / f"serve-{n}.log", ANSWERS_BEFORE_SIGNAL[n % 2])


def workers_of(master: int) -> set[int]:
    return set(group_members(master)) - {master}


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_a_worker_stopped_alone_is_replaced(instance: Instance, server: str, tmp_path: Path) -> None:
    """The other side of a group stop: SIGTERM to one worker is that worker's end only."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "authserver.cli", "serve", "--port", str(port), "--workers", "2",
             "--server", server],
            env={**instance.env, "AUTHSERVER_ISSUER": url}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while len(first := workers_of(process.pid)) < 2 or not answers(url, instance.basic):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        stopped = min(first)
        os.kill(stopped, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while stopped in (now := workers_of(process.pid)) or len(now) < 2:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while not answers(url, instance.basic):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
    finally:
        if group_members(process.pid):
            os.killpg(process.pid, signal.SIGKILL)


def answers(url: str, basic: tuple[str, str]) -> bool:
    try:
        return requests.post(url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=basic,
                             timeout=10).status_code == 200
    except requests.ConnectionError:
        return False
