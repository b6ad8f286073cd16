"""The framework-neutral view of an HTTP request that backends read.

Backends see only what authentication needs (method, path, headers, query string, client
address), so the core runs under any framework; ``resource_guard.flask`` builds one per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl


class HeaderLookup(Protocol):
    """Anything that finds a header by name, case-insensitively."""

    def get(self, key: str, /) -> str | None: ...


class Headers(dict[str, str]):
    """A case-insensitive header mapping for callers whose framework does not provide one."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        super().__init__((k.lower(), v) for k, v in (headers or {}).items())

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(slots=True)
class Request:
    """What a backend may read from a request (treat it as read-only).

    ``headers`` must look names up case-insensitively (Werkzeug's and Django's do; wrap a plain
    dict in :class:`Headers`). ``remote_addr`` is the client address as the application sees
    it: behind a proxy, fix it up first (e.g. Werkzeug's ``ProxyFix``), or rate limiting keys
    on the proxy. ``authorization`` is read from ``headers`` unless the adapter passes it.
    Not frozen: it is built on every request, and a frozen ``__init__`` costs several times more.
    """

    method: str
    headers: HeaderLookup
    path: str = "/"
    query_string: str = ""
    remote_addr: str | None = None
    authorization: str | None = None

    def __post_init__(self) -> None:
        if self.authorization is None:
            self.authorization = self.headers.get("Authorization")

    def has_query_token(self) -> bool:
        """Whether the query string carries ``access_token`` (RFC 6750 §2.3)."""
        if "access_token" not in self.query_string:  # cheap pre-check; parse only if needed
            return False
        return any(k == "access_token" for k, _ in parse_qsl(self.query_string,
                                                              keep_blank_values=True))
