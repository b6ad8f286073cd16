"""``AUTHSERVER_AUDIT_LOG``: every committed audit event, also as one JSON line on stderr or
in a file, for a log shipper or a SIEM.

A line is written only once its transaction has committed (a rolled-back change leaves no
line claiming it happened), as one ``write`` on a descriptor opened for appending, so the
lines of several workers and servers sharing a file never interleave.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import event as sqlalchemy_event

from ..models.audit import AuditEvent

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
        os.write(self._descriptor(), (json.dumps(line, separators=(",", ":")) + "\n").encode())


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


def token_line(issued_at: datetime, client_id: str, scope: str, token_format: str, remote_addr: str | None,
               request_id: str | None) -> dict[str, Any]:
    """A client-credentials token's ``token.issued`` event, read from its row."""
    return {"time": issued_at.isoformat(), "type": "token.issued", "actor": "client", "user": None,
            "client_id": client_id, "remote_addr": remote_addr, "request_id": request_id,
            "details": {"grant_type": "client_credentials", "scope": scope, "token_format": token_format}}


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
