"""Client lookup with a short per-worker cache, off the token endpoint's hot path.

Every token, introspection and revocation request authenticates a client; reading its row
each time is a query per request for data that changes rarely. A worker keeps a client for
``client_cache_ttl`` seconds (0 turns the cache off), or ``LIVE_TTL`` while it hears of every
change (``changes``): a secret rotated or a client deleted anywhere drops the entry
everywhere within a second. A read that a change overtook is not cached (``_generation``),
so a stale row cannot come back after its change was heard. Each client it hands out is
bound to the server's ``SecretHasher``, for Authlib's ``check_client_secret``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from ..changes import Change
from ..extensions import db
from ..models import Client
from ..secrets import SecretHasher

MAX_ENTRIES = 10_000
LIVE_TTL = 60.0  # while the change channel is up: a change missed otherwise (a row edited by hand)


class ClientCache:
    def __init__(self, ttl: float, hasher: SecretHasher, live: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._hasher = hasher
        self._live = live or threading.Event()
        self._clock = clock
        self._entries: dict[str, tuple[float, Client]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, client_id: str) -> Client | None:
        """The client, from memory while fresh, else from the database (unknown ids are not
        cached, so junk cannot fill the cache)."""
        now = self._clock()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        generation = self._generation
        # Annotated: Client subclasses Authlib's untyped ClientMixin, so mypy sees the row as Any.
        client: Client | None = db.session.scalar(select(Client).where(Client.client_id == client_id))
        if client is None:
            return None
        client.bind_hasher(self._hasher)
        if self._ttl <= 0:
            return client
        db.session.expunge(client)  # detached and fully loaded: safe to share across requests
        ttl = max(self._ttl, LIVE_TTL) if self._live.is_set() else self._ttl
        with self._lock:
            if generation != self._generation:  # a change came while it was read
                return client
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[client_id] = (now + ttl, client)
        return client

    def invalidate(self, client_id: str) -> None:
        with self._lock:
            self._entries.pop(client_id, None)
            self._generation += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def apply(self, change: Change) -> None:
        """A change to one client (``Kind.CLIENT``) or to all (``Kind.CLIENTS``)."""
        if change.key:
            self.invalidate(change.key)
        else:
            self.clear()
