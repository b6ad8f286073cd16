"""How long a change takes to reach another worker: from the commit that announces it to the
moment the listening worker applies it, over PostgreSQL's LISTEN/NOTIFY and over Redis
pub/sub, on a throwaway PostgreSQL database (two apps in one process stand for two workers;
the time includes the listener thread's wake-up).

    .venv/bin/python -m bench.change_latency [--changes 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flask_migrate import upgrade

from authserver import create_app
from authserver.appstate import state
from authserver.changes import Change, Kind, announce
from authserver.changes.listener import Listener
from authserver.extensions import db
from tests.databases import new_database

REDIS_URL = "redis://127.0.0.1:6379/0"


def latencies(settings: dict[str, Any], count: int) -> list[float]:
    """Milliseconds from each commit to its change applied on the other app."""
    writer, reader = create_app(settings), create_app(settings)
    with writer.app_context():
        upgrade()
    changes = state(reader).changes
    assert changes.channel is not None
    heard: dict[str, float] = {}
    arrived = threading.Event()

    def note(change: Change) -> None:
        heard[change.key] = time.perf_counter()
        arrived.set()

    changes.on(Kind.CLIENT, note)
    listener = Listener(changes, changes.channel)
    listener.start()
    assert changes.live.wait(10), "the listener did not connect"
    found = []
    try:
        for _ in range(count):
            key = uuid.uuid4().hex
            arrived.clear()
            with writer.app_context():
                announce(Change(Kind.CLIENT, key))
                committed = time.perf_counter()
                db.session.commit()
            assert arrived.wait(5), "a change was not heard"
            found.append((heard[key] - committed) * 1000)
    finally:
        listener.stopped.set()
        for app in (writer, reader):
            with app.app_context():
                db.engine.dispose()
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for channel, extra in (("PostgreSQL LISTEN/NOTIFY", {}), ("Redis pub/sub", {"redis_url": REDIS_URL})):
            with new_database("postgresql", Path(folder), label="bench") as url:
                settings = {"database_url": url, "instance_path": folder, "secret_key": uuid.uuid4().hex * 2,
                            "issuer": "http://127.0.0.1:9", **extra}
                found = latencies(settings, args.changes)
            p99 = found[max(int(len(found) * 0.99) - 1, 0)]
            print(f"{channel}: median {statistics.median(found):.2f} ms, p99 {p99:.2f} ms, "
                  f"max {found[-1]:.2f} ms ({len(found)} changes)")


if __name__ == "__main__":
    main()
