"""A granian worker that is told to stop, stops: while it boots, when busy, when told twice.

Found by ``tests/e2e/test_shutdown.py``, three ways a SIGTERM or Ctrl-C to ``make run``'s
process group (which reaches the master and every worker at once) left a worker, and so
``authserver serve``, alive, until ``workers_kill_timeout`` or, without one, for good:

- **Told twice, frozen.** A worker hears the group's signal and then its master's own
  SIGTERM. granian's (2.8) handler calls its native ``WorkerSignal.set()`` each time, and a
  second call blocks, with the GIL held, whenever the first has not been consumed yet: the
  worker freezes at 0 % CPU, and no later signal can reach Python in it again. Here granian's
  handler is replaced by one that sets the signal once.
- **Told while booting, lost.** Until granian installs its handler (after the app has loaded,
  about a second), a worker still has the master's, copied by the fork, which does nothing
  useful in it: the stop is lost and the worker serves on. Here the master forks each worker
  with the stop signals blocked (``held_stops``), so a stop that comes before the worker's
  loader starts waits, pending, until ``watch`` has its own handler in place; the worker
  records it, and passes it on once granian's handler is installed.
- **Busy, held.** granian goes on serving requests on kept-alive HTTP/1.1 connections after
  it stops accepting new ones (emmett-framework/granian#568): a busy client (a load balancer,
  a pool, ``wrk``) holds the worker until the kill, whose requests it then cuts off. Once told
  to stop, every response says ``Connection: close``, so each connection ends after its
  current request and the worker drains at once, as gunicorn's do.

Signals are seen through ``signal.set_wakeup_fd``, which CPython writes to on every signal,
whichever thread the kernel gave it to; a signal given to one of granian's threads leaves the
main thread blocked and its handler unrun, so it is sent again to the main thread.

The replacement goes in through ``granian._signals.set_sync_signals``, which granian's WSGI
worker imports when it starts; ``tests/authserver/test_granian_signals.py`` fails loudly on a
granian that moves it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

import granian._signals as granian_signals
from granian._granian import WorkerSignal

from . import held_stops

log = logging.getLogger(__name__)

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
# Longest a worker may take to load the app and install its handler.
BOOT_BOUND_SECONDS = 120.0
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Draining:
    """Whether this worker has been told to stop; ``wrap`` a WSGI app to close connections then."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._handler: Callable[[int, FrameType | None], None] | None = None

    def watch(self) -> None:
        """Called first in the worker's main thread, before the app loads and granian sets
        up its signals."""
        read, write = os.pipe()
        os.set_blocking(write, False)
        previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        if previous != -1:  # not ours to take; the handler below still stops the worker once
            signal.set_wakeup_fd(previous)
            os.close(read)
            os.close(write)
        else:
            threading.Thread(target=self._read, args=(read,), name="draining", daemon=True).start()
        for sig in STOP_SIGNALS:  # until granian's is in place: the fork's copy of the master's loses it
            signal.signal(sig, self._during_boot)
        granian_signals.set_sync_signals = self._set_sync_signals
        held_stops.release()  # a stop held since the fork is handled now, by ``_during_boot``

    def _during_boot(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()  # passed on by ``_set_sync_signals``

    def _set_sync_signals(self) -> WorkerSignal:
        """granian's ``set_sync_signals``, with a handler that sets its signal once."""
        stop = WorkerSignal()
        fired = threading.Lock()

        def handler(_signum: int, _frame: FrameType | None) -> None:
            self.stopping.set()
            if fired.acquire(blocking=False):
                stop.set()

        granian_signals.set_main_signals(handler)  # type: ignore[no-untyped-call]  # granian's is untyped
        self._handler = handler
        if self.stopping.is_set():  # a stop came while the app loaded
            handler(signal.SIGTERM, None)
        return stop

    def _read(self, fd: int) -> None:
        while chunk := os.read(fd, 64):
            stops = STOP_SIGNALS & set(chunk)
            if stops:
                self.stopping.set()
                self._to_main_thread(min(stops))
                return

    def _to_main_thread(self, signum: int) -> None:
        """The signal again, to the main thread, where Python runs handlers, once granian's
        worker has its handler (a stop before that is passed on as it is installed)."""
        deadline = time.monotonic() + BOOT_BOUND_SECONDS
        while self._handler is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signum)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def draining_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if not self.stopping.is_set():
                return app(environ, start_response)

            def closing(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
                kept = [(name, value) for name, value in headers if name.lower() != "connection"]
                return start_response(status, [*kept, ("Connection", "close")], *exc_info)

            return app(environ, closing)

        return draining_app
