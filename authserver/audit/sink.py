"""``AUTHSERVER_AUDIT_LOG``: every committed audit event, also as one JSON line on stderr or
in a file, for a log shipper or a SIEM.

A line is written only once its transaction has committed (a rolled-back change leaves no
line claiming it happened), as one ``write`` on a descriptor opened for appending, so the
lines of several workers and servers sharing a file never interleave.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import event as sqlalchemy_event

from ..models.audit import AuditEvent

log = logging.getLogger(__name__)
EXTENSION = "authserver.audit_sink"
PENDING = "audit_pending"


class Sink:
    """One destination for JSON lines: stderr, or a file opened once for appending."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _descriptor(self) -> int:
        if self.target == "stderr":
            return sys.stderr.fileno()
        with self._lock:
            if self._fd is None:  # opened in the process that writes (after a server's fork)
                self._fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            return self._fd

    def write(self, line: Mapping[str, Any]) -> None:
        """One line; a full disk or a closed stderr is logged, never the request's failure
        (the event is in the table already)."""
        try:
            os.write(self._descriptor(), (json.dumps(line, separators=(",", ":")) + "\n").encode())
        except OSError as exc:
            log.warning("audit event %s not written to %s: %s", line.get("type"), self.target, exc.strerror)


def install(app: Flask, target: str | None) -> None:
    if target is not None:
        app.extensions[EXTENSION] = Sink(target)


def current() -> Sink | None:
    found = current_app.extensions.get(EXTENSION) if has_app_context() else None
    return found if isinstance(found, Sink) else None


def as_line(event: AuditEvent) -> dict[str, Any]:
    """An event as ``audit list --json`` and the sink print it."""
    return {"time": event.occurred_at.isoformat(), "type": event.type, "actor": event.actor, "user": event.username,
            "client_id": event.client_id, "remote_addr": event.remote_addr, "request_id": event.request_id,
            "details": event.details}


def pending(session: Session, event: AuditEvent) -> None:
    """Hold the event until its transaction commits, when a sink is configured."""
    target = current()
    if target is not None:
        session.info.setdefault(PENDING, []).append((target, as_line(event)))


def _committed(session: Session) -> None:
    for target, line in session.info.pop(PENDING, ()):
        target.write(line)


def _rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING, None)


sqlalchemy_event.listen(Session, "after_commit", _committed)
sqlalchemy_event.listen(Session, "after_soft_rollback", _rolled_back)
