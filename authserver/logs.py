"""Safe logging by default: every record is scrubbed of credentials before it is written.

Libraries log more than they should at DEBUG (Authlib logs whole token responses), so
rather than trusting each call site, one filter on every handler masks anything shaped
like a credential: prefixed tokens, JWTs, ``Basic``/``Bearer`` values and ``key=value``
pairs whose key is sensitive. The shapes are resource_guard's (``resource_guard.scrub``), so a
credential masked in one package's logs is masked in the other's.
"""

from __future__ import annotations

import logging

from resource_guard.scrub import MASK, scrub

__all__ = ["MASK", "ScrubbingFilter", "install", "scrub"]


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
        return True


_FILTER = ScrubbingFilter()


def install(level: str) -> None:
    """Give our and Authlib's loggers a stderr handler at ``level`` (gunicorn passes stderr
    to its error log) and put the filter on every handler that exists now: in a worker, the
    server's own (gunicorn's or granian's, access log included) are set up before the app."""
    for logger_name in ("authserver", "authlib"):
        logger = logging.getLogger(logger_name)
        logger.setLevel(level)
        if not any(getattr(h, "_authserver", False) for h in logger.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
            handler._authserver = True  # type: ignore[attr-defined]  # our mark on a stdlib handler
            logger.addHandler(handler)
            logger.propagate = False
    for name in (None, "gunicorn.error", "gunicorn.access", "_granian", "granian.access", "authserver", "authlib",
                 "werkzeug"):
        for existing in logging.getLogger(name).handlers:
            if _FILTER not in existing.filters:
                existing.addFilter(_FILTER)
