"""Logging a failure that the guard answers with 503, without what might be secret.

The stack says where it failed, which is what an operator needs; the exception's text is left
out, because a driver's message can carry a connection string, and a failure while checking
credentials may quote them.
"""

from __future__ import annotations

import logging
import traceback


def log_unavailable(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log at ERROR that ``what`` failed with ``exc``: the exception types (with their causes)
    and the traceback's frames, never the exception messages."""
    kinds: list[str] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(kinds) < 5:
        kinds.append(type(cause).__qualname__)
        cause = cause.__cause__ or cause.__context__
    caused_by = "".join(f" (from {kind})" for kind in kinds)
    stack = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    logger.error("%s failed with %s%s; answering 503\nTraceback (most recent call last):\n%s",
                 what, type(exc).__qualname__, caused_by, stack)
