"""Health probes for orchestrators and load balancers.

``/health/live`` says the process answers (no database call: a database outage must not get
every worker restarted). ``/health/ready`` says whether this worker can serve: the database
answers within ``READY_TIMEOUT_SECONDS``, its schema is at this code's migration head, and a
signing key is active. A failed check is named in the 503 body; neither probe needs
authentication, says anything secret, or answers 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, jsonify
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from ..appstate import state
from ..extensions import db
from ..models import SigningKey
from ..schema import schema_of

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

LIVE = "/health/live"
READY = "/health/ready"
READY_TIMEOUT_SECONDS = 2
OK = "ok"


def _probe(body: dict[str, object], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(LIVE)
def live() -> Response:
    """Liveness: 200 while the process answers requests; no database call."""
    return _probe({"status": OK}, 200)


def _database(connection: Connection) -> str:
    if connection.dialect.name == "postgresql":  # a database that hangs must not hang the probe
        connection.execute(text(f"SET LOCAL statement_timeout = {READY_TIMEOUT_SECONDS * 1000}"))
    connection.execute(text("SELECT 1"))
    return OK


def _schema(connection: Connection) -> str:
    schema = schema_of(connection)
    if schema.at_head:
        return OK
    if not schema.current:
        return "not migrated: run authserver db upgrade"
    if schema.from_newer_code:
        return f"at {', '.join(sorted(schema.current))}, from a newer authserver"
    return f"at {', '.join(sorted(schema.current))}, needs {', '.join(sorted(schema.heads))}: run authserver db upgrade"


def _signing_key(connection: Connection) -> str:
    alg = state().settings.signing_alg
    active = connection.scalar(
        select(SigningKey.id).where(SigningKey.retired_at.is_(None), SigningKey.alg == alg).limit(1)
    )
    return OK if active is not None else f"no active {alg} key: run authserver keys rotate --alg {alg}"


CHECKS: dict[str, Callable[[Connection], str]] = {"database": _database, "schema": _schema, "signing_key": _signing_key}


@bp.get(READY)
def ready() -> Response:
    """Readiness: 200 when the database answers, the schema is at the migration head and a
    signing key is active; else 503 naming the failed check.

    The checks run in order, each needing the one before (no key table before a schema), and
    stop at the first that fails; the rest are reported ``not checked``."""
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as connection, connection.begin():
            for name, check in CHECKS.items():
                checks[name] = check(connection)
                if checks[name] != OK:
                    break
    except Exception as exc:  # whatever broke, the probe answers, and names where it stopped
        failed = next(name for name in CHECKS if name not in checks)
        checks[failed] = "unreachable" if failed == "database" else "failed"
        log.warning("readiness: the %s check failed: %s", failed, type(exc).__name__)
    for name in CHECKS:
        checks.setdefault(name, "not checked")
    ready = all(result == OK for result in checks.values())
    return _probe({"status": OK if ready else "unavailable", "checks": checks}, 200 if ready else 503)
