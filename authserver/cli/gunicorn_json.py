"""gunicorn's own lines as JSON when ``log_format = "json"``.

A logger class rather than gunicorn's ``logconfig_dict``: the dict is merged into gunicorn's
defaults, which add a second handler through the root logger (every line twice) and an
access log. Here the error log keeps its one handler with the JSON formatter, and the access
log is off: the app writes it (``web.request_id``), with the request id gunicorn cannot see.
"""

from __future__ import annotations

from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger

from ..logs import JSONFormatter


class JSONLogger(Logger):
    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JSONFormatter())

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """No access line here: the app's has the request id."""
