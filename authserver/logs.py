"""Safe logging by default: every record is scrubbed of credentials before it is written,
and carries the id of the request it belongs to.

Libraries log more than they should at DEBUG (Authlib logs whole token responses), so
rather than trusting each call site, one filter on every handler masks anything shaped
like a credential: prefixed tokens, JWTs, ``Basic``/``Bearer`` values and ``key=value``
pairs whose key is sensitive. The shapes are resource_guard's (``resource_guard.scrub``), so a
credential masked in one package's logs is masked in the other's.

``log_format = "json"`` writes one JSON object a line (``JSONFormatter``), for log shippers;
the same filter runs first, so JSON lines are masked as text lines are.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from flask import g, has_request_context

from resource_guard.scrub import MASK, scrub

__all__ = ["MASK", "JSONFormatter", "LogFormat", "ScrubbingFilter", "install", "scrub"]

NO_REQUEST = "-"
TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] [%(request_id)s] %(name)s: %(message)s"
# Loggers whose handlers get the filter: ours, Authlib's, the servers' (access logs included).
FILTERED = (None, "gunicorn.error", "gunicorn.access", "_granian", "granian.access", "authserver", "authlib",
            "werkzeug")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def current_request_id() -> str:
    """The id of the request being served in this thread, or ``-`` outside one (the
    command line, the stores, a server's own lines)."""
    return str(g.get("request_id", NO_REQUEST)) if has_request_context() else NO_REQUEST


class ScrubbingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id,
    process, the record's ``fields`` (``extra={"fields": {...}}``), and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
            "process": record.process,
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


_FILTER = ScrubbingFilter()


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JSONFormatter() if log_format == LogFormat.JSON else logging.Formatter(TEXT_FORMAT)


def install(level: str, log_format: LogFormat = LogFormat.TEXT) -> None:
    """Give our and Authlib's loggers a stderr handler at ``level`` (gunicorn passes stderr
    to its error log) and put the filter on every handler that exists now: in a worker, the
    server's own (gunicorn's or granian's, access log included) are set up before the app."""
    for logger_name in ("authserver", "authlib"):
        logger = logging.getLogger(logger_name)
        logger.setLevel(level)
        handler = next((h for h in logger.handlers if getattr(h, "_authserver", False)), None)
        if handler is None:
            handler = logging.StreamHandler()
            handler._authserver = True  # type: ignore[attr-defined]  # our mark on a stdlib handler
            logger.addHandler(handler)
            logger.propagate = False
        handler.setFormatter(formatter(log_format))  # a later app may ask for the other format
    for name in FILTERED:
        for existing in logging.getLogger(name).handlers:
            if _FILTER not in existing.filters:
                existing.addFilter(_FILTER)
