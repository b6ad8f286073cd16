"""The event types of the contract, and ``record``: the one writer of audit events.

An event is added to the caller's database session and commits with the change it records
(a refused token request has no change, so it commits its own). Every value that reaches an
event is a name, a count or a code the server chose: callers pass no token, code, secret or
password, and ``details`` holds only what the event type lists.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from flask import g, has_request_context, request

from ..extensions import db
from ..models.audit import ADDRESS_LENGTH, AuditEvent
from ..models.types import utcnow
from . import sink


class EventType(StrEnum):
    TOKEN_ISSUED = "token.issued"
    TOKEN_REFUSED = "token.refused"
    TOKEN_REVOKED = "token.revoked"
    REFRESH_REUSE_DETECTED = "refresh.reuse_detected"
    CODE_REPLAYED = "code.replayed"
    CLIENT_CREATED = "client.created"
    CLIENT_UPDATED = "client.updated"
    CLIENT_DELETED = "client.deleted"
    CLIENT_SECRET_ROTATED = "client.secret_rotated"
    USER_SIGNED_IN = "user.signed_in"
    USER_SIGN_IN_FAILED = "user.sign_in_failed"
    USER_LOCKED_OUT = "user.locked_out"
    USER_DISABLED = "user.disabled"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_REVOKED = "consent.revoked"
    SESSION_ENDED = "session.ended"
    KEY_ROTATED = "key.rotated"
    REGISTRATION_CREATED = "registration.created"


class Actor(StrEnum):
    """Who caused the event: a signed-in person, a client at an endpoint, the command line,
    or nobody known (a failed sign-in under a name that is no account's)."""

    USER = "user"
    CLIENT = "client"
    CLI = "cli"
    ANONYMOUS = "anonymous"


def request_origin() -> tuple[str | None, str | None]:
    """The remote address and request id of the request being served, or two Nones (the
    command line)."""
    if not has_request_context():
        return None, None
    address = request.remote_addr
    return (address[:ADDRESS_LENGTH] if address else None), g.get("request_id")


def record(
    type: EventType, actor: Actor, *, user: str | None = None, client_id: str | None = None, **details: Any,
) -> None:
    """Add one event to the current transaction; the caller's commit writes it (and then
    ``sink`` ships it, when one is configured)."""
    remote_addr, request_id = request_origin()
    event = AuditEvent(occurred_at=utcnow(), type=type.value, actor=actor.value, username=user,
                       client_id=client_id, remote_addr=remote_addr, request_id=request_id, details=details)
    db.session.add(event)
    sink.pending(db.session(), event)


def token_issued_line(issued_at: datetime, client_id: str, scope: str, token_format: str,
                      remote_addr: str | None, request_id: str | None) -> dict[str, Any]:
    """A client-credentials token's ``token.issued`` event, read from its row: the same
    object ``sink.as_line`` makes of a stored event."""
    return {"time": issued_at.isoformat(), "type": EventType.TOKEN_ISSUED.value, "actor": Actor.CLIENT.value,
            "user": None, "client_id": client_id, "remote_addr": remote_addr, "request_id": request_id,
            "details": {"grant_type": "client_credentials", "scope": scope, "token_format": token_format}}
