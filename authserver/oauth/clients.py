"""Client lookup with a short per-worker cache, off the token endpoint's hot path.

Every token, introspection and revocation request authenticates a client; reading its row
each time is a query per request for data that changes rarely. A worker keeps a client for
``client_cache_ttl`` seconds (0 turns the cache off). Changes made in this process (secret
rotation, deletion) drop the entry at once; changes made by another process — the command
line against a running server — are seen by every worker within the TTL, which is the
documented bound for a rotated secret or a deleted client to stop working. Each client it
hands out is bound to the server's ``SecretHasher``, for Authlib's ``check_client_secret``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from ..extensions import db
from ..models import Client
from ..secrets import SecretHasher

MAX_ENTRIES = 10_000


class ClientCache:
    def __init__(self, ttl: float, hasher: SecretHasher, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._hasher = hasher
        self._clock = clock
        self._entries: dict[str, tuple[float, Client]] = {}
        self._lock = threading.Lock()

    def get(self, client_id: str) -> Client | None:
        """The client, from memory while fresh, else from the database (unknown ids are not
        cached, so junk cannot fill the cache)."""
        now = self._clock()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        # Annotated: Client subclasses Authlib's untyped ClientMixin, so mypy sees the row as Any.
        client: Client | None = db.session.scalar(select(Client).where(Client.client_id == client_id))
        if client is None:
            return None
        client.bind_hasher(self._hasher)
        if self._ttl <= 0:
            return client
        db.session.expunge(client)  # detached and fully loaded: safe to share across requests
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[client_id] = (now + self._ttl, client)
        return client

    def invalidate(self, client_id: str) -> None:
        with self._lock:
            self._entries.pop(client_id, None)
