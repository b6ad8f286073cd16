"""Building a :class:`~resource_guard.request.Request` from a WSGI environ (PEP 3333).

Shared by the adapters whose framework keeps the environ: Flask's ``request.environ`` and
Django's ``request.META`` (which has the same keys under WSGI and ASGI alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resource_guard.request import Request


class EnvironHeaders:
    """Header lookup straight from the environ, cheaper than building the framework's own
    header object on the hot path."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def get(self, key: str, /) -> str | None:
        name = key.upper().replace("-", "_")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = "HTTP_" + name
        value = self._environ.get(name)
        return value if isinstance(value, str) else None


def request_from_environ(environ: Mapping[str, Any]) -> Request:
    """The request view of a WSGI environ. ``remote_addr`` is ``REMOTE_ADDR`` as the server
    set it: the peer's address, never a forwarded-for header."""
    return Request(environ["REQUEST_METHOD"], EnvironHeaders(environ),
                   environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""),
                   environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION"))
