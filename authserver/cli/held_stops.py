"""A stop sent to a worker before it has a handler of its own waits for that handler.

A worker starts as a copy of its server's master, the master's signal handlers included,
which do nothing useful in a worker: a SIGTERM or SIGINT that reaches a worker in the moments
between its fork and the install of its own handler (the whole process group signalled by a
terminal or a supervisor; a master stopping a worker it has just spawned, as gunicorn does
when a stop and a worker's replacement cross) is lost, and the worker serves on until it is
killed. So the master forks with the stop signals blocked, and each worker unblocks them once
its handler is in place (``release``): a stop sent meanwhile is pending, then handled.
Measured: ``tests/e2e/test_shutdown.py`` lost such a stop about once a run under the suite's
load, under granian and, less often, gunicorn.
"""

from __future__ import annotations

import os
import signal

# SIGQUIT: gunicorn's master stops its workers with it on Ctrl-C (a stop without grace).
STOPS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})


def block() -> None:
    """In the calling thread; the process's other threads take them."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)


def release() -> None:
    """In a worker, once its stop handlers are installed: a stop held since the fork is
    handled now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)


def hold_across_forks() -> None:
    """Called in the master before it serves: every process it forks (only its workers)
    starts with the stops blocked; the master's own mask is restored as the fork returns."""
    os.register_at_fork(before=block, after_in_parent=release)
