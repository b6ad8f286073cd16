"""Each server process listens for changes in a daemon thread, and keeps listening.

When the channel is lost (the database or Redis restarted, a network cut), the thread says so
once, drops every cache (what changed meanwhile was not heard; from then on the caches' TTLs
bound a change), and tries again after 0.5 s, 1 s, 2 s … at most ``MAX_RETRY`` apart. When it
is back, it says so once, and drops every cache again, after it has subscribed, so nothing
changed in between is missed.
"""

from __future__ import annotations

import logging
import threading

from . import Change, Changes, Channel

log = logging.getLogger("authserver.changes")

FIRST_RETRY = 0.5
MAX_RETRY = 10.0


class Listener:
    def __init__(self, changes: Changes, channel: Channel) -> None:
        self._changes = changes
        self._channel = channel
        self.stopped = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="changes", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        retry, lost = FIRST_RETRY, False
        while not self.stopped.is_set():
            try:
                with self._channel.subscribe() as subscription:
                    self._changes.live.set()
                    self._changes.apply_everything()
                    if lost:
                        log.info("listening for changes on %s again", self._channel.name)
                    retry, lost = FIRST_RETRY, False
                    for text in subscription.messages(self.stopped):
                        change = Change.decode(text)
                        if change is not None:
                            self._changes.apply(change)
            except Exception as exc:  # whatever the driver raises: the thread must outlive it
                if self.stopped.is_set():
                    return
                if self._changes.live.is_set():
                    self._changes.live.clear()
                    self._changes.apply_everything()
                if not lost:
                    log.warning("lost the change channel (%s: %s): caches fall back to their TTL; reconnecting",
                                self._channel.name, type(exc).__name__)
                    lost = True
            self.stopped.wait(retry)
            retry = min(retry * 2, MAX_RETRY)
