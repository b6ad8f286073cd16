"""A granian master stopped together with its workers exits as stopped, not as failed.

A terminal's Ctrl-C and a supervisor's SIGTERM go to the whole process group, so each worker
stops on its own, and may be gone before its master has marked it as one it stopped: granian
(2.8) marks a worker only as it passes the stop on, after its Python handler has run in the
main thread, late under load. It then takes the exit for a crash: it logs "Unexpected exit
from worker-N" and the master exits 1, which a supervisor reports as a failure (measured:
``tests/e2e/test_shutdown.py``, two cycles of eighty under the suite's load).

The master here asks, as it judges a worker's exit, whether a stop has reached it: taken
already by one of its threads (Python's C-level handler writes the signal's number to a wakeup
pipe at once, ``signal.set_wakeup_fd``), or still pending for a thread that has not run yet
(the kernel shows it to a thread that blocks the stops, as the judging thread does). A worker's
exit after a stop to its master is then counted as that stop. A worker stopped alone (``kill``
of its pid) is still a crash, which granian respawns.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from granian.server.mp import MPServer, WorkerProcess

from . import held_stops

STOPS = frozenset({signal.SIGTERM, signal.SIGINT})


class StopNotes:
    """The stops this process has been sent, seen as they arrive. Made in the main thread,
    which Python requires of ``set_wakeup_fd``; a forked child starts without it."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        for fd in (self._read, self._write):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._in_master = True
        self._stopped = False
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_in_child)

    def _forget_in_child(self) -> None:
        """A worker's own signals are not its master's: the fork copied the wakeup fd."""
        if not self._in_master:  # a fork in a worker: done at the worker's own
            return
        self._in_master = False
        signal.set_wakeup_fd(-1)
        os.close(self._read)
        os.close(self._write)

    def told_to_stop(self) -> bool:
        """Called in a thread that blocks the stops (``held_stops.block``): pending first,
        then taken, as a signal leaves the one for the other."""
        with self._lock:
            if STOPS & signal.sigpending():
                self._stopped = True
            while not self._stopped:
                try:
                    chunk = os.read(self._read, 64)
                except BlockingIOError:
                    break
                self._stopped = bool(STOPS & set(chunk))
            return self._stopped


class GroupStoppedServer(MPServer):
    """granian's server of worker processes (its ``Server`` on a build with the GIL), whose
    workers' exits after a stop to its master are that stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._notes = StopNotes()

    def _spawn_worker(self, *args: Any, **kwargs: Any) -> WorkerProcess:
        worker = super()._spawn_worker(*args, **kwargs)
        granian_watcher = worker._watcher

        def watcher() -> None:
            held_stops.block()  # stops go to the main thread; pending ones show here
            worker.inner.join()
            if self._notes.told_to_stop():
                worker.interrupt_by_parent = True
            granian_watcher()  # type: ignore[no-untyped-call]  # granian's

        worker._watcher = watcher  # type: ignore[method-assign]  # read by granian's ``start``, before it starts the worker
        return worker
