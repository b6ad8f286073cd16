"""Changes that every worker of every node sees within a second, not after a cache's lifetime.

Workers keep clients and the active signing keys in memory (``oauth.clients``, ``oauth.keys``).
A change to one of them is announced in the transaction that makes it (``announce``). Once that
commits, it is applied in this process at once, and every other process hears of it through
the change channel: PostgreSQL's ``LISTEN``/``NOTIFY`` on the database the nodes share (sent
in the transaction, so a rolled-back change is never heard of), or Redis pub/sub when
``AUTHSERVER_REDIS_URL`` is set (sent just after the commit; the way for a PostgreSQL reached
through a transaction-pooling proxy, which cannot hold a ``LISTEN``). While a process listens
(``Changes.live``), its caches keep entries longer, as they hear of each change; while it
does not (SQLite, a lost channel, a process that never listens), the caches' TTLs bound how
long a change takes. Each time the channel comes up or goes down, everything cached is
dropped: what changed meanwhile was not heard.

Sessions, tokens, resources and scopes are read from the database at each use; their changes
hold at once everywhere and need no announcement.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

PENDING = "authserver.changes"  # in ``Session.info``: what the open transaction changes


class Kind(StrEnum):
    CLIENT = "client"  # one client, by client_id: deleted, disabled, a new secret or metadata
    CLIENTS = "clients"  # every client: a protected resource changed, which some clients follow
    KEYS = "keys"  # the signing keys: one rotated
    LOGOUTS = "logouts"  # back-channel logout notices to deliver


@dataclass(frozen=True)
class Change:
    kind: Kind
    key: str = ""

    def encode(self) -> str:
        return f"{self.kind} {self.key}" if self.key else self.kind.value

    @classmethod
    def decode(cls, text: str) -> Change | None:
        """None for what this version does not know (a newer node's kind, during a roll)."""
        kind, _, key = text.partition(" ")
        try:
            return cls(Kind(kind), key)
        except ValueError:
            return None


Applier = Callable[[Change], None]
# After a gap in what was heard: each cache drops everything of its kind.
EVERYTHING = (Change(Kind.CLIENTS), Change(Kind.KEYS), Change(Kind.LOGOUTS))


class Channel(Protocol):
    """How changes travel between processes (``pg_notify``, ``redis_pubsub``)."""

    name: str

    def send_in_transaction(self, session: Session, payloads: list[str]) -> None: ...

    def send_after_commit(self, payloads: list[str]) -> None: ...

    def subscribe(self) -> Subscription: ...


class Subscription(Protocol):
    def __enter__(self) -> Subscription: ...

    def __exit__(self, *exc: object) -> None: ...

    def messages(self, stopped: threading.Event) -> Iterator[str]:
        """What is sent, as it comes, until ``stopped`` is set; raises when the channel is lost
        (found within a few seconds even when the peer vanished without a word)."""
        ...


class Changes:
    """One app's side: what applies each kind of change here, and whether this process listens."""

    def __init__(self, channel: Channel | None) -> None:
        self.channel = channel
        self.live = threading.Event()
        self._appliers: dict[Kind, list[Applier]] = defaultdict(list)

    def on(self, kind: Kind, applier: Applier) -> None:
        self._appliers[kind].append(applier)

    def apply(self, change: Change) -> None:
        for applier in self._appliers[change.kind]:
            applier(change)

    def apply_everything(self) -> None:
        for change in EVERYTHING:
            self.apply(change)



_committing: list[Callable[[], Changes]] = []  # the committing app's, from ``install_session_hooks``


def install_session_hooks(current: Callable[[], Changes]) -> None:
    """Once per process: every commit of ``db.session`` sends and applies what it announced,
    with the ``Changes`` of the app ``current`` names (a session lives in an app context;
    ``state().changes``, passed in, as the app state sits above this module)."""
    _committing[:] = [current]
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "before_commit", _send_in_transaction):
        event.listen(session_class, "before_commit", _send_in_transaction)
        event.listen(session_class, "after_commit", _apply_committed)
        event.listen(session_class, "after_rollback", _forget)


def announce(change: Change) -> None:
    """In the transaction that makes ``change``; applied everywhere once it commits, and
    nowhere if it rolls back."""
    db.session.connection()  # the transaction is open, so its rollback is one to hear of
    db.session.info.setdefault(PENDING, {})[change] = None


def _payloads(pending: dict[Change, None]) -> list[str]:
    return [change.encode() for change in pending]


def _send_in_transaction(session: Session) -> None:
    pending: dict[Change, None] | None = session.info.get(PENDING)
    channel = _committing[0]().channel if pending else None
    if pending and channel is not None:
        channel.send_in_transaction(session, _payloads(pending))


def _apply_committed(session: Session) -> None:
    pending: dict[Change, None] | None = session.info.pop(PENDING, None)
    if not pending:
        return
    changes = _committing[0]()
    for change in pending:
        changes.apply(change)
    if changes.channel is not None:
        changes.channel.send_after_commit(_payloads(pending))


def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)
