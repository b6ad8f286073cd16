"""RFC 6749 §5.2 JSON errors, and JSON (never HTML tracebacks) for every other failure."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .endpoints import is_machine_endpoint
from .pages import error_page

log = logging.getLogger("authserver.errors")

# The database is down, restarting, refusing connections, locked past its timeout, or the
# pool has no connection to give within its timeout: all of them pass, so all are a 503.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
RETRY_AFTER = "1"


def rfc6749_description(text: str) -> str:
    """``text`` kept to the characters RFC 6749 §5.2 allows in ``error_description``
    (printable ASCII without ``"`` and ``\\``): a description that names a parameter the
    client sent must not carry whatever that name held."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


class OAuthErrorResponse(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = rfc6749_description(description)
        self.status = status

    def response(self) -> Response:
        resp = jsonify(error=self.error, error_description=self.description)
        resp.status_code = self.status
        resp.headers["Cache-Control"] = "no-store"
        if self.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="authserver"'
        return resp


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(OAuthErrorResponse, lambda exc: exc.response())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if not is_machine_endpoint(request.path):
            return exc
        error = "invalid_request" if (exc.code or 500) < 500 else "server_error"
        resp = jsonify(error=error, error_description=exc.description)
        resp.status_code = exc.code or 500
        return resp

    def database_unavailable(exc: Exception) -> Response | tuple[str, int, dict[str, str]]:
        """A 503 the client may retry, on every endpoint, not a 500 (and no SQL or
        parameters in the log): RFC 6749 ``temporarily_unavailable`` JSON for programs,
        an error page for people."""
        cause = getattr(exc, "orig", None) or exc
        # The driver's first line ("database is locked", "connection refused"): never the SQL
        # or its parameters, which SQLAlchemy's own message carries.
        reason = (str(cause).splitlines() or [""])[0][:200]
        log.warning("database unavailable on %s %s: %s: %s", request.method, request.path, type(cause).__name__,
                    reason)
        retry = {"Retry-After": RETRY_AFTER}
        if not is_machine_endpoint(request.path):
            page, status = error_page("Try again in a moment", "The server cannot reach its database.", 503)
            return page, status, retry
        resp = jsonify(error="temporarily_unavailable",
                       error_description="The server cannot reach its database; retry.")
        resp.status_code = 503
        resp.headers.update({**retry, "Cache-Control": "no-store"})
        return resp

    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error="server_error", error_description="The server failed to handle this request."), 500
