"""ASGI plumbing shared by the Starlette, FastAPI and MCP adapters; imports no framework.

:func:`request_from_scope` builds the :class:`~resource_guard.request.Request` view from an ASGI
scope (as :mod:`resource_guard.wsgi` does from an environ), :func:`refusal` renders a failed
:class:`~resource_guard.results.AuthResult` as the JSON error every adapter answers with, and
:class:`MetadataEndpoint` serves RFC 9728 metadata as a plain ASGI app any router can mount.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from resource_guard.protected_resource import DOCUMENT_HEADERS, ProtectedResource
from resource_guard.request import Request
from resource_guard.results import AuthResult

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ScopeHeaders:
    """Header lookup straight from the scope's ``(name, value)`` byte pairs (names arrive
    lower-cased, ASGI spec §HTTP), without building the framework's header object."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self._headers = headers

    def get(self, key: str, /) -> str | None:
        name = key.lower().encode("latin-1")
        for header, value in self._headers:
            if header == name:
                return value.decode("latin-1")
        return None


def request_from_scope(scope: Scope) -> Request:
    """The request view of an HTTP (or WebSocket) scope. ``remote_addr`` is the peer the
    server saw (``scope["client"]``), never a forwarded-for header. The ``Authorization``
    header is found here, in the one pass every request needs anyway."""
    headers = scope.get("headers", ())
    authorization = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    client = scope.get("client")
    query = scope.get("query_string", b"")
    return Request(scope.get("method", "GET"), ScopeHeaders(headers), scope.get("path", "/"),
                   query.decode("latin-1") if query else "", client[0] if client else None, authorization)


def refusal(result: AuthResult) -> tuple[int, bytes, dict[str, str]]:
    """A failure as ``(status, body, headers)``: ``{"error", "error_description"}`` (and
    ``scope``) in JSON, with the challenge and ``Retry-After`` the guard decided."""
    assert result.error is not None
    body = json.dumps(result.error.to_json()).encode()
    return result.error.status, body, {**result.headers, "Content-Type": "application/json"}


async def send_refusal(send: Send, result: AuthResult) -> None:
    """Answer a failure on a raw ASGI connection."""
    status, body, headers = refusal(result)
    await _send(send, status, body, headers)


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class MetadataEndpoint:
    """An ASGI app answering GET/HEAD with the RFC 9728 document (serialised once)."""

    def __init__(self, resource: ProtectedResource) -> None:
        self.resource = resource
        self._document = resource.to_json().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") in ("GET", "HEAD"):  # the server drops a HEAD's body
            await _send(send, 200, self._document, dict(DOCUMENT_HEADERS))
        else:
            await _send(send, 405, b'{"error":"method_not_allowed"}',
                        {"Content-Type": "application/json", "Allow": "GET, HEAD"})
