"""The granian worker's stop handling (``authserver.cli.draining``): the parts of granian it
relies on are where it expects them, and a stopping worker tells clients to close.

The whole behaviour (twenty starts and stops under load per server and signal, no process
left, no worker killed) is ``tests/e2e/test_shutdown.py``.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import granian._signals
import granian.server.mp
from granian._granian import WorkerSignal

from authserver.cli.draining import Draining


def test_granian_still_sets_up_its_wsgi_workers_signals_where_draining_replaces_them() -> None:
    """A granian upgrade that moves these makes the replacement a silent no-op, and a stop
    could again freeze a worker: fail here, loudly, instead."""
    source = inspect.getsource(granian.server.mp)
    assert "from granian._signals import set_sync_signals" in source
    assert "shutdown_event = set_sync_signals()" in source
    assert callable(granian._signals.set_main_signals) and callable(granian._signals.set_sync_signals)
    assert callable(WorkerSignal().set)


def _served(app: Any) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def start_response(_status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        seen.extend(headers)

    assert b"".join(app({}, start_response)) == b"ok"
    return seen


def test_once_told_to_stop_every_response_closes_its_connection() -> None:
    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "keep-alive")])
        return [b"ok"]

    draining = Draining()
    wrapped = draining.wrap(app)
    assert ("Connection", "keep-alive") in _served(wrapped)
    draining.stopping.set()
    headers = _served(wrapped)
    assert [value for name, value in headers if name.lower() == "connection"] == ["close"]
    assert ("Content-Type", "text/plain") in headers


# A granian master: its own (Python) stop handler, copied into each worker by the fork, does
# nothing useful there. The worker is told to stop as soon as it exists, long before its loader
# calls ``watch``; it must still know, once ``watch`` runs.
_FORKED_WORKER = """
import os, signal, sys, time
from authserver.cli import held_stops
from authserver.cli.draining import Draining

signal.signal(signal.SIGTERM, lambda *_: None)
if sys.argv[1] == "held":
    held_stops.hold_across_forks()
pid = os.fork()
if pid == 0:
    time.sleep(0.3)  # the worker still loading, the stop already sent
    draining = Draining()
    draining.watch()
    deadline = time.monotonic() + 5
    while not draining.stopping.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(0 if draining.stopping.is_set() else 3)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _fork_and_stop_at_once(mode: str) -> int:
    return subprocess.run([sys.executable, "-c", _FORKED_WORKER, mode], capture_output=True, timeout=60).returncode


def test_a_stop_sent_before_the_worker_watches_is_held_for_it() -> None:
    assert _fork_and_stop_at_once("held") == 0


def test_without_the_hold_that_stop_is_lost() -> None:
    """The race the hold closes, shown to exist: the control for the test above."""
    assert _fork_and_stop_at_once("unheld") == 3
