"""Request ids: every request has one, every log line of it carries it, the response echoes it.

An ``X-Request-ID`` from the client or the proxy in front is kept when it is short and made
of the characters ids are made of (UUIDs, AWS and Cloudflare trace ids), so one id follows a
request through every hop; anything else (too long, spaces, quotes, control characters,
non-ASCII) is replaced by a fresh one rather than written into logs and audit records.

With ``log_format = "json"`` the access log is written here too (``authserver.access``: method,
path without its query string, status, duration, request id), since the HTTP servers' own
access lines cannot carry the id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from ..logs import LogFormat

HEADER = "X-Request-ID"
ACCEPTED = re.compile(r"[A-Za-z0-9._:;/+=@-]{1,128}")
access_log = logging.getLogger("authserver.access")


def _begin() -> None:
    offered = request.headers.get(HEADER, "")
    g.request_id = offered if ACCEPTED.fullmatch(offered) else uuid.uuid4().hex


def _echo(response: Response) -> Response:
    response.headers[HEADER] = g.request_id
    return response


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _log_access(response: Response) -> Response:
    duration_ms = round((time.perf_counter() - g.request_started) * 1000, 3)
    access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": {
        "method": request.method, "path": request.path, "status": response.status_code,
        "duration_ms": duration_ms, "remote_addr": request.remote_addr,
    }})
    return response


def time_requests(app: Flask) -> None:
    """Start each request's clock (``g.request_started``) right after its id, for what
    reports durations: the JSON access line, the HTTP metrics. Once, however many ask."""
    first = app.before_request_funcs.setdefault(None, [])
    if _start_clock not in first:
        first.insert(1 if _begin in first else 0, _start_clock)


def init_app(app: Flask, log_format: LogFormat) -> None:
    """First of the app's hooks, so that every other one, and every error page, has the id."""
    first = app.before_request_funcs.setdefault(None, [])
    first.insert(0, _begin)
    app.after_request(_echo)
    if log_format == LogFormat.JSON:  # the clock only where something reports it
        time_requests(app)
        app.after_request(_log_access)
