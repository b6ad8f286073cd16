"""The official ``mcp`` SDK's ``TokenVerifier`` on a resource_guard chain (``resource-guard[mcp]``).

An MCP server is an OAuth 2.0 resource server (MCP authorization, 2025-11-25): it must accept only
tokens issued for itself (RFC 8707 audience; MCP forbids passing a client's token through to
another service), and its 401s point at its RFC 9728 metadata. The SDK answers the HTTP side
(401/403, ``resource_metadata``, the metadata document); :class:`GuardTokenVerifier` decides which
tokens are good, with the same rules, caches and single-flight fetches as every other adapter.

::

    verifier = GuardTokenVerifier(backends, resource="https://mcp.example/mcp",
                                  required_scopes=["reports:read"])
    server = MCPServer("reports", token_verifier=verifier, auth=verifier.auth_settings(issuer))
    serve_root_metadata(server, verifier.protected_resource(issuer))
    app = StepUpChallenge(server.streamable_http_app(), verifier.required_scopes)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from resource_guard.asgi import Message, MetadataEndpoint, Receive, Scope, Send
from resource_guard.backends.base import AuthBackend
from resource_guard.errors import quote_param
from resource_guard.guard import Guard
from resource_guard.protected_resource import WELL_KNOWN, ProtectedResource, _absolute_url
from resource_guard.request import Headers, Request
from resource_guard.results import Principal

logger = logging.getLogger(__name__)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_HAS_SCOPE = re.compile(rb"(?:^|[\s,])scope=", re.IGNORECASE)


class GuardTokenVerifier:
    """``mcp.server.auth.provider.TokenVerifier`` backed by a :class:`~resource_guard.guard.Guard`.

    ``guard`` is a Guard or its backend list (``BearerJWTBackend``, ``IntrospectionBackend``...).
    ``resource`` is this MCP server's URL, the RFC 8707 resource indicator its tokens must name in
    ``aud``: checked here whatever audience the backends were configured with (even
    ``ANY_AUDIENCE``). ``required_scopes`` are not checked here: they go to the SDK through
    :meth:`auth_settings`, which answers a token without them with 403 ``insufficient_scope``
    (so the client can step up) rather than the 401 a refused token gets.
    """

    def __init__(self, guard: Guard | Sequence[AuthBackend], *, resource: str,
                 required_scopes: Iterable[str] = ()) -> None:
        if isinstance(required_scopes, str):
            raise TypeError("required_scopes must be a list of scope names, not a string.")
        self.guard = guard if isinstance(guard, Guard) else Guard(guard)
        self.resource = _absolute_url(resource, "resource")
        self.required_scopes: tuple[str, ...] = tuple(required_scopes)
        self._path = urlsplit(resource).path or "/"

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's view of ``token``, or None to refuse it (the SDK then answers 401).

        Runs the chain on the event loop (:meth:`Guard.authenticate_async`): cached tokens are
        answered inline, fetches share one request, blocking stores run on worker threads.
        """
        request = Request("POST", Headers({"Authorization": f"Bearer {token}"}), path=self._path)
        principal = (await self.guard.authenticate_async(request)).principal
        if principal is None:
            return None
        if self.resource not in principal.audience:
            logger.warning("Refused a token of client %s issued for %s, not for this MCP server (%s)",
                           principal.client_id, list(principal.audience) or "no audience", self.resource)
            return None
        return self.access_token(token, principal)

    def access_token(self, token: str, principal: Principal) -> AccessToken:
        """Map a principal to the SDK's ``AccessToken`` (``resource`` is this server: checked)."""
        return AccessToken(
            token=token,
            client_id=principal.client_id or principal.subject,
            scopes=sorted(principal.scopes or ()),
            expires_at=None if principal.expires_at is None else int(principal.expires_at.timestamp()),
            resource=self.resource,
            subject=principal.subject,
            claims=dict(principal.claims),
        )

    def auth_settings(self, issuer_url: str, **settings: Any) -> AuthSettings:
        """The SDK's ``AuthSettings`` for this verifier: the issuer named in the RFC 9728
        document, this server as the resource, the required scopes, and the SDK's own resource
        check on as a second lock. ``settings`` adds or overrides fields."""
        values: dict[str, Any] = {
            # strings, so the SDK keeps a path-less issuer as given: RFC 8414 §3.3 compares exactly
            "issuer_url": issuer_url,
            "resource_server_url": self.resource,
            "required_scopes": list(self.required_scopes) or None,
            "validate_token_resource": True,
            **settings,
        }
        return AuthSettings(**values)

    def protected_resource(self, issuer_url: str, **fields: Any) -> ProtectedResource:
        """The RFC 9728 document the SDK serves for :meth:`auth_settings`, as resource_guard's type."""
        return ProtectedResource(resource=self.resource, authorization_servers=[issuer_url],
                                 scopes_supported=self.required_scopes, **fields)


def serve_root_metadata(server: MCPServer[Any], resource: ProtectedResource) -> None:
    """Serve ``resource``'s document at the bare well-known path too.

    The SDK serves it only path-suffixed (``/.well-known/oauth-protected-resource/mcp``, RFC 9728
    §3.1); clients that know only the host, and MCP clients after a suffixed miss, ask the bare
    path. Register before building the app (the SDK adds custom routes when it builds it).
    """
    if resource.resource_path:
        route = server.custom_route(WELL_KNOWN, methods=["GET", "HEAD"], include_in_schema=False)
        route(MetadataEndpoint(resource))  # an ASGI app: Starlette routes take one as the endpoint


class StepUpChallenge:
    """ASGI middleware adding ``scope="..."`` to the SDK's Bearer challenges.

    The SDK's 401 and 403 ``insufficient_scope`` name ``resource_metadata`` but not the scopes
    needed; MCP's scope challenge (and RFC 6750 §3) has the client read them from ``scope``, so a
    client holding a token without them knows what to ask for. A challenge that already has a
    ``scope`` parameter is left alone.
    """

    def __init__(self, app: ASGIApp, scopes: Iterable[str]) -> None:
        self.app = app
        self._scope = f', scope="{quote_param(" ".join(scopes))}"'.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._scope == b', scope=""':
            await self.app(scope, receive, send)
            return

        async def send_with_scope(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                message["headers"] = [self._with_scope(name, value) for name, value in message.get("headers", ())]
            await send(message)

        await self.app(scope, receive, send_with_scope)

    def _with_scope(self, name: bytes, value: bytes) -> tuple[bytes, bytes]:
        if name.lower() != b"www-authenticate" or value[:7].lower() != b"bearer " or _HAS_SCOPE.search(value):
            return name, value
        return name, value + self._scope
