"""The audit trail: security-relevant events, queryable (``audit_events``, ``authserver
audit``), and optionally shipped as JSON lines (``AUTHSERVER_AUDIT_LOG``).

``events`` names the event types and writes one (``record``), in the caller's transaction;
``sink`` copies committed events to stderr or a file; ``trail`` reads and purges them,
client-credentials tokens included, whose ``token.issued`` event is their own row.
"""

from .events import Actor, EventType, record, request_origin, token_issued_line

__all__ = ["Actor", "EventType", "record", "request_origin", "token_issued_line"]
