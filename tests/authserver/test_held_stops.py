"""``held_stops`` as gunicorn's workers use it: the master forks with the stops blocked, the
worker installs its own SIGTERM handler (gunicorn's ``init_signals``), loads the app, then
releases them (``post_worker_init``); a SIGTERM its master sent right after the fork, before
the handler existed, is handled then, instead of lost. The granian case is in
``test_draining.py``; the whole behaviour under load in ``tests/e2e/test_shutdown.py``."""

from __future__ import annotations

import subprocess
import sys

import pytest

_GUNICORN_LIKE = """
import os, signal, sys, time
from authserver.cli import held_stops

signal.signal(signal.SIGTERM, lambda *_: None)  # the master's handler, copied by the fork
if sys.argv[1] == "held":
    held_stops.hold_across_forks()
pid = os.fork()
if pid == 0:
    time.sleep(0.3)  # between the fork and init_signals
    told = []
    signal.signal(signal.SIGTERM, lambda *_: told.append(1))  # the worker's handle_exit
    held_stops.release()
    deadline = time.monotonic() + 5
    while not told and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(0 if told else 3)
os.kill(pid, signal.SIGTERM)  # the master stopping the worker it has just spawned
_, status = os.waitpid(pid, 0)
blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
sys.exit(os.waitstatus_to_exitcode(status) or (4 if signal.SIGTERM in blocked else 0))
"""


@pytest.mark.parametrize(("mode", "code"), [("held", 0), ("unheld", 3)], ids=["held", "control: lost without"])
def test_a_stop_sent_between_fork_and_handler_reaches_the_worker(mode: str, code: int) -> None:
    """Exit 0: the worker saw it, and the master's own mask is as before the fork."""
    done = subprocess.run([sys.executable, "-c", _GUNICORN_LIKE, mode], capture_output=True, timeout=60)
    assert done.returncode == code, done.stderr
