"""The granian worker's stop handling (``authserver.cli.draining``): the parts of granian it
relies on are where it expects them, and a stopping worker tells clients to close.

The whole behaviour (twenty starts and stops under load per server and signal, no process
left, no worker killed) is ``tests/e2e/test_shutdown.py``.
"""

from __future__ import annotations

import inspect
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
